import * as assert from 'assert';
import { spawn } from 'child_process';
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
      assert.equal(await helper('get', 'protocol=http\nhost=127.0.0.1:5080\n\n', env), 'username=alice\npassword=secret-token\n');
      assert.equal(await helper('get', 'protocol=https\nhost=github.com\n\n', env), '');
      assert.equal(await helper('store', 'protocol=http\nhost=127.0.0.1:5080\npassword=x\n\n', env), '');
    } finally {
      await socket.dispose();
    }
  });
});

/** Runs the helper as git would (asynchronously: the socket it talks to lives in this process). */
function helper(operation: string, input: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', HelperScript, operation], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', chunk => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', () => resolve(output));
    child.stdin.end(input);
  });
}
