import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { CredentialSocket } from '../../src/git/credentialSocket';
import { HelperScript, SocketVariable, credentialAnswer, helperArguments, memberBranch, origin, parseCredentialRequest, remoteUrl, roomBranch, roomNameFor } from '../../src/git/localRoom';

const room = '6f9619ff-8b86-d011-b42d-00c04fc964ff';

describe('a room through its git remote', () => {
  it('names the remote, the room branch and the member branch as the server does', () => {
    assert.equal(remoteUrl('http://127.0.0.1:5080', room), `http://127.0.0.1:5080/git/${room}.git`);
    assert.equal(remoteUrl('https://conductor.example/', room), `https://conductor.example/git/${room}.git`);
    assert.equal(roomBranch(room), `session/${room}`);
    assert.equal(memberBranch(room, 'alice'), `session/${room}-alice`);
    assert.equal(origin('http://127.0.0.1:5080/api'), 'http://127.0.0.1:5080');
  });

  it('names a room after the folder', () => {
    assert.equal(roomNameFor('/home/ada/src/engine/'), 'engine');
    assert.equal(roomNameFor('/'), 'project');
  });

  it('answers git with the token for the backend only', () => {
    const request = parseCredentialRequest('protocol=http\nhost=127.0.0.1:5080\npath=git/x.git\n\n');
    assert.equal(credentialAnswer(request, 'http://127.0.0.1:5080', 'alice', 'tok'), 'username=alice\npassword=tok\n');
    assert.equal(credentialAnswer(parseCredentialRequest('protocol=https\nhost=github.com\n'), 'http://127.0.0.1:5080', 'alice', 'tok'), null);
    assert.equal(credentialAnswer(parseCredentialRequest('host=127.0.0.1:5080\n'), 'http://127.0.0.1:5080', 'alice', 'tok'), null);
  });

  it('gives git a helper scoped to the backend, resetting other helpers, with no token in its arguments', () => {
    const args = helperArguments('http://127.0.0.1:5080', '/usr/bin/node');
    assert.deepEqual(args.slice(0, 3), ['-c', 'credential.http://127.0.0.1:5080.helper=', '-c']);
    assert.ok(args[3].startsWith(`credential.http://127.0.0.1:5080.helper=!'/usr/bin/node' -e "`));
    assert.ok(!args.join(' ').includes('tok'));
  });

  it('hands the token to a real helper process over the socket, and nothing for another host', async () => {
    const socket = await CredentialSocket.open('http://127.0.0.1:5080', 'alice', () => Promise.resolve('secret-token'));
    try {
      const env = { ...process.env, [SocketVariable]: socket.path };
      const answer = execFileSync(process.execPath, ['-e', HelperScript, 'get'], { input: 'protocol=http\nhost=127.0.0.1:5080\n\n', env }).toString();
      assert.equal(answer, 'username=alice\npassword=secret-token\n');
      const other = execFileSync(process.execPath, ['-e', HelperScript, 'get'], { input: 'protocol=https\nhost=github.com\n\n', env }).toString();
      assert.equal(other, '');
      const store = execFileSync(process.execPath, ['-e', HelperScript, 'store'], { input: 'protocol=http\nhost=127.0.0.1:5080\npassword=x\n\n', env }).toString();
      assert.equal(store, '');
    } finally {
      await socket.dispose();
    }
  });
});
