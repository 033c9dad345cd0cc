import * as assert from 'node:assert/strict';
import { workspaceFileContent, workspaceFileFolders } from '../../src/fs/workspaceFile';

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

describe('workspaceFileFolders', () => {
  it('reads back the folders workspaceFileContent wrote, in order', () => {
    const folders = [{ path: '/home/me/project', name: 'project' }, { uri: 'conductor://0f5c/', name: 'Conductor: Team room' }];
    assert.deepEqual(workspaceFileFolders(workspaceFileContent(folders)), folders);
  });

  it('gives nothing for text that is not a workspace file, and skips entries without a path or uri', () => {
    assert.deepEqual(workspaceFileFolders(''), []);
    assert.deepEqual(workspaceFileFolders('{"folders": 3}'), []);
    assert.deepEqual(workspaceFileFolders('{"folders": [{"name": "x"}, 7, {"uri": "conductor://a/"}]}'), [{ uri: 'conductor://a/' }]);
  });
});
