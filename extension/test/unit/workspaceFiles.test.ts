import * as assert from 'node:assert/strict';
import { ApiError, BackendUnreachableError } from '../../src/api/errors';
import { normalize, parentOf, toFsError, WorkspaceFsError } from '../../src/fs/workspaceFiles';

describe('conductor:// paths', () => {
  it('turns URI paths into the Api\'s relative paths', () => {
    assert.equal(normalize('/src/a.ts'), 'src/a.ts');
    assert.equal(normalize('/'), '');
    assert.equal(normalize('/src/'), 'src');
  });
  it('finds the parent folder', () => {
    assert.equal(parentOf('src/a/b.ts'), 'src/a');
    assert.equal(parentOf('a.ts'), '');
  });
});

describe('toFsError', () => {
  const kind = (error: unknown) => (toFsError(error, 'a.txt') as WorkspaceFsError).kind;
  it('maps the Api\'s answers to VS Code\'s file errors', () => {
    assert.equal(kind(new ApiError(404, 'Not found', 'There is no file', undefined)), 'FileNotFound');
    assert.equal(kind(new ApiError(409, 'Target exists', undefined, undefined)), 'FileExists');
    assert.equal(kind(new ApiError(403, 'Forbidden', undefined, 'not_in_room')), 'NoPermissions');
    assert.equal(kind(new ApiError(400, 'Invalid path', "'src' is a directory; list it with /files.", undefined)), 'FileIsADirectory');
    assert.equal(kind(new ApiError(400, 'Invalid path', "'a' is a file, not a directory.", undefined)), 'FileNotADirectory');
    assert.equal(kind(new ApiError(503, 'Unavailable', undefined, undefined)), 'Unavailable');
    assert.equal(kind(new BackendUnreachableError('http://127.0.0.1:1', new Error('ECONNREFUSED'))), 'Unavailable');
  });
  it('says a 412 is someone else\'s newer version and that nothing was saved', () => {
    const error = toFsError(new ApiError(412, 'The file changed', undefined, undefined), 'src/a.ts') as WorkspaceFsError;
    assert.equal(error.kind, 'Conflict');
    assert.match(error.message, /src\/a\.ts was changed by someone else since you opened it\. Your version was not saved/);
  });
});
