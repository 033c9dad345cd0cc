import * as assert from 'node:assert/strict';
import { workspaceFileContent } from '../../src/fs/workspaceFile';

describe('workspaceFileContent', () => {
  it('lists the window\'s folders first and the room\'s conductor:// folder last, by path or by uri', () => {
    const text = workspaceFileContent([
      { path: '/home/me/project', name: 'project' },
      { uri: 'conductor://0f5c/', name: 'Conductor: Team room' },
    ]);
    assert.deepEqual(JSON.parse(text), {
      folders: [
        { path: '/home/me/project', name: 'project' },
        { uri: 'conductor://0f5c/', name: 'Conductor: Team room' },
      ],
      settings: {},
    });
    assert.ok(text.endsWith('}\n'), 'the file ends with a newline');
  });

  it('refuses a workspace without folders', () => {
    assert.throws(() => workspaceFileContent([]), /at least one folder/);
  });
});
