import * as assert from 'node:assert/strict';
import { ConductorApi } from '../../src/api/client';
import { ApiError, BackendUnreachableError, NotSignedInError } from '../../src/api/errors';
import { AuthSession, type SecretStore } from '../../src/auth/authSession';
import { ChatConnection } from '../../src/chat/chatConnection';
import { applyEventData, emptyTranscript, type StreamFrame, type Transcript } from '../../src/conversations/conversationStream';
import { WorkspaceFiles, WorkspaceFsError } from '../../src/fs/workspaceFiles';
import { required, uniqueLogin } from '../support/environment';

/** SecretStorage's contract, in memory: the real thing lives in VS Code; what is tested here is what we store. */
class MemorySecrets implements SecretStore {
  readonly values = new Map<string, string>();
  async get(key: string): Promise<string | undefined> { return this.values.get(key); }
  async store(key: string, value: string): Promise<void> { this.values.set(key, value); }
  async delete(key: string): Promise<void> { this.values.delete(key); }
}

async function signedIn(baseUrl: string, login: string, now: () => number = Date.now): Promise<{ api: ConductorApi; auth: AuthSession; secrets: MemorySecrets }> {
  const anonymous = new ConductorApi(baseUrl);
  const secrets = new MemorySecrets();
  const auth = new AuthSession(anonymous, secrets, now);
  await auth.signIn(await anonymous.devLogin(login));
  return { api: anonymous.withAccessToken(auth.accessToken), auth, secrets };
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

describe('the Api client against a real Conductor Api', function () {
  const baseUrl = required('CONDUCTOR_API_URL');
  const repoUrl = required('CONDUCTOR_REPO_URL');
  const repoToken = required('CONDUCTOR_REPO_TOKEN');
  const sessions: AuthSession[] = [];
  after(() => sessions.forEach(session => session.dispose()));

  it('sees that dev login is enabled', async () => {
    assert.equal(await new ConductorApi(baseUrl).isDevLoginEnabled(), true);
  });

  it('signs in, keeps the tokens only in the secret store, refreshes before expiry and revokes on sign-out', async () => {
    let clock = Date.now();
    const { api, auth, secrets } = await signedIn(baseUrl, uniqueLogin('alice'), () => clock);
    sessions.push(auth);
    const me = await api.me();
    assert.equal(me.login, auth.user?.login);
    const stored = [...secrets.values.values()].join();
    const first = JSON.parse(stored) as { accessToken: string; refreshToken: string };
    assert.match(first.refreshToken, /^crt_/);

    // Within a minute of expiry the next request refreshes first (rotation: a new refresh token is stored).
    clock += 15 * 60_000 - 30_000;
    assert.equal((await api.me()).id, me.id);
    const second = JSON.parse([...secrets.values.values()].join()) as { refreshToken: string };
    assert.notEqual(second.refreshToken, first.refreshToken);

    // Once its successor was used too, the rotated-away token is dead: presenting it again counts as reuse. (Right after
    // the rotation it would still pass for a retry after a lost answer: the Api's Auth:RefreshRetryWindow.)
    clock += 15 * 60_000 - 30_000;
    assert.equal((await api.me()).id, me.id);
    const third = JSON.parse([...secrets.values.values()].join()) as { refreshToken: string };
    assert.notEqual(third.refreshToken, second.refreshToken);
    await assert.rejects(new ConductorApi(baseUrl).refresh(first.refreshToken), (error: unknown) => error instanceof ApiError && error.status === 401);

    await auth.signOut();
    assert.equal(secrets.values.size, 0);
    await assert.rejects(api.me(), NotSignedInError);
  });

  it('ends the session with a clear message when the refresh token was revoked elsewhere', async () => {
    let clock = Date.now();
    const { api, auth, secrets } = await signedIn(baseUrl, uniqueLogin('bob'), () => clock);
    sessions.push(auth);
    const stolen = JSON.parse([...secrets.values.values()].join()) as { refreshToken: string };
    await new ConductorApi(baseUrl).revoke(stolen.refreshToken);
    const ended: string[] = [];
    auth.onDidEnd(reason => ended.push(reason));
    clock += 15 * 60_000;
    await assert.rejects(api.me(), (error: unknown) => error instanceof NotSignedInError && /Sign In/.test(error.message));
    assert.deepEqual(ended, ['revoked']);
    assert.equal(secrets.values.size, 0);
  });

  it('signs in with GitHub\'s device flow: a code to show, pending polls, then tokens', async () => {
    const anonymous = new ConductorApi(baseUrl);
    const start = await anonymous.startDeviceFlow();
    assert.match(start.user_code, /^\d{4}-\d{4}$/);
    assert.match(start.verification_uri, /\/login\/device$/);
    assert.ok(start.interval > 0 && start.expires_in > 0);
    let polls = 0;
    for (;;) {
      const poll = await anonymous.pollDeviceFlow(start.device_code);
      polls++;
      if (poll.kind === 'tokens') {
        assert.equal(poll.tokens.user.login, required('CONDUCTOR_GITHUB_LOGIN'));
        const secrets = new MemorySecrets();
        const auth = new AuthSession(anonymous, secrets);
        sessions.push(auth);
        await auth.signIn(poll.tokens);
        const me = await anonymous.withAccessToken(auth.accessToken).me();
        assert.equal(me.has_github_token, true);
        break;
      }
      assert.equal(poll.status, 'authorization_pending');
      assert.ok(polls < 50, 'approved within 50 polls');
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    await assert.rejects(anonymous.pollDeviceFlow('no-such-code'), (error: unknown) => error instanceof ApiError && error.status === 400);
  });

  it('reports an unreachable backend as such, not as a refusal', async () => {
    await assert.rejects(new ConductorApi('http://127.0.0.1:9').devLogin('x'), BackendUnreachableError);
  });

  it('creates a room, invites, joins with the invite and lists members', async () => {
    const alice = await signedIn(baseUrl, uniqueLogin('alice'));
    const bob = await signedIn(baseUrl, uniqueLogin('bob'));
    sessions.push(alice.auth, bob.auth);
    const room = await alice.api.createRoom('integration');
    assert.equal(room.role, 'host');
    const invite = await alice.api.createInvite(room.room_id);
    await assert.rejects(bob.api.getRoom(room.room_id), (error: unknown) => error instanceof ApiError && error.status === 403);
    const joined = await bob.api.joinRoom(invite.token);
    assert.deepEqual(joined, { room_id: room.room_id, role: 'guest' });
    const details = await bob.api.getRoom(room.room_id);
    assert.deepEqual(details.members.map(m => m.login).sort(), [alice.auth.user!.login, bob.auth.user!.login].sort());
    await assert.rejects(bob.api.joinRoom('not-a-real-token-at-all'), (error: unknown) => error instanceof ApiError && error.status === 400);
  });

  it('chats over the socket, and after a dropped connection recovers the messages it missed', async () => {
    const alice = await signedIn(baseUrl, uniqueLogin('alice'));
    const bob = await signedIn(baseUrl, uniqueLogin('bob'));
    sessions.push(alice.auth, bob.auth);
    const room = await alice.api.createRoom('chat');
    await bob.api.joinRoom((await alice.api.createInvite(room.room_id)).token);

    const connection = new ChatConnection(alice.api, alice.auth.accessToken, room.room_id, { baseDelayMs: 300, maxDelayMs: 600 });
    let connects = 0;
    let drops = 0;
    connection.on('connected', () => connects++);
    connection.on('disconnected', () => drops++);
    try {
      await connection.start();
      await until(() => connection.isOpen && connects === 1 ? true : undefined, 'the socket to open');
      const id = await connection.send({ content: 'hello over the socket' });
      await until(() => connection.log.messages.find(m => m.id === id), 'our own chat frame');
      await bob.api.postMessage(room.room_id, { content: 'from bob, live' });
      await until(() => connection.log.messages.find(m => m.content === 'from bob, live'), 'bob\'s live message');

      // Drop the socket, and have bob talk while alice is away: recovery must bring the gap, once.
      connection.dropForTest();
      await until(() => drops === 1 ? true : undefined, 'the drop to be noticed');
      for (let i = 0; i < 3; i++) {
        await bob.api.postMessage(room.room_id, { content: `while away ${i}` });
      }
      await until(() => connects === 2 ? true : undefined, 'the reconnect');
      await until(() => connection.log.messages.filter(m => String(m.content).startsWith('while away')).length === 3 ? true : undefined, 'the gap');
      const seqs = connection.log.messages.map(m => m.seq);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'no duplicates, in order');

      // Resending the same id (what a client does after a reconnect) stores nothing new.
      const again = await alice.api.postMessage(room.room_id, { id, content: 'hello over the socket' });
      assert.equal(again.id, id);
      const history = await alice.api.chatHistory(room.room_id, { limit: 50 });
      assert.equal(history.filter(m => m.id === id).length, 1);
    } finally {
      connection.dispose();
    }
  });

  it('reads the AI providers\' status and streams an answer token by token', async () => {
    const { api, auth } = await signedIn(baseUrl, uniqueLogin('carol'));
    sessions.push(auth);
    const status = await api.aiStatus();
    assert.ok(status.providers.some(p => p.name === 'mock'), JSON.stringify(status));
    assert.equal(typeof status.active_provider, 'string');
    const tokens: string[] = [];
    await api.infer('one two three', token => tokens.push(token));
    assert.ok(tokens.length > 1, 'streamed in several tokens');
    assert.equal(tokens.join(''), 'Mock answer (3 words): one two three');
    await assert.rejects(api.selectProvider('no-such-provider'), (error: unknown) => error instanceof ApiError && error.status === 400);
  });

  it('starts an agent conversation, follows its stream to the end, resumes it after an event id and exports it', async () => {
    const { api, auth } = await signedIn(baseUrl, uniqueLogin('dana'));
    sessions.push(auth);
    const roomId = (await api.createRoom('parley')).room_id;
    const started = await api.startConversation(roomId, {
      topic: 'Tabs or spaces', max_turns: 2,
      bots: [{ name: 'Tabs', provider: 'mock', instructions: 'Argue for tabs.' }, { name: 'Spaces', provider: 'mock', instructions: 'Argue for spaces.' }],
    });
    const id = started.conversation_id;
    const frames: StreamFrame[] = [];
    let transcript: Transcript = emptyTranscript;
    await api.streamConversation(roomId, id, undefined, frame => {
      frames.push(frame);
      transcript = applyEventData(transcript, frame.data);
    });
    assert.equal(transcript.status, 'completed');
    assert.deepEqual(transcript.turns.map(t => [t.botName, t.provider, t.complete]), [['Tabs', 'mock', true], ['Spaces', 'mock', true]]);
    assert.equal(transcript.turns[0]?.text, 'Mock answer (4 words): Topic: Tabs or spaces');

    // Resumed after turn 0's end: only turn 1 and the end come again.
    const firstEnd = frames.find(f => f.data.includes('"turn_end"') && f.data.includes('"turn":0'));
    assert.ok(firstEnd, 'turn 0 ended');
    let resumed: Transcript = emptyTranscript;
    await api.streamConversation(roomId, id, firstEnd.lastEventId, frame => { resumed = applyEventData(resumed, frame.data); });
    assert.deepEqual(resumed.turns.map(t => t.turn), [1]);
    assert.equal(resumed.status, 'completed');

    const markdown = await api.exportConversationMarkdown(roomId, id);
    assert.ok(markdown.startsWith('# Tabs or spaces\n'), markdown);
    assert.ok(markdown.includes('### 2. Spaces'), markdown);
    assert.equal((await api.stopConversation(roomId, id)).status, 'completed');
    assert.deepEqual((await api.listConversations(roomId)).map(c => c.conversation_id), [id]);
  });

  describe('the conductor:// file logic over the workspace file API', () => {
    let roomId = '';
    let alice: Awaited<ReturnType<typeof signedIn>>;

    before(async function () {
      this.timeout(120_000);
      alice = await signedIn(baseUrl, uniqueLogin('alice'));
      sessions.push(alice.auth);
      roomId = (await alice.api.createRoom('files')).room_id;
      const accepted = await alice.api.createWorkspace(roomId, repoUrl, 'main', repoToken);
      for (;;) {
        const job = await alice.api.getJob(accepted.job_id);
        if (job.status === 'succeeded') {
          break;
        }
        assert.notEqual(job.status, 'failed', job.error ?? 'clone failed');
        await new Promise(resolve => setTimeout(resolve, 200));
      }
      assert.equal((await alice.api.getWorkspace(roomId)).status, 'ready');
    });

    it('stats, lists and reads files', async () => {
      const files = new WorkspaceFiles(alice.api);
      assert.equal((await files.stat(roomId, '/')).kind, 'directory');
      assert.equal((await files.stat(roomId, '/src')).kind, 'directory');
      const readme = await files.stat(roomId, '/README.md');
      assert.equal(readme.kind, 'file');
      const root = await files.readDirectory(roomId, '/');
      assert.deepEqual(root.find(([name]) => name === 'src'), ['src', 'directory']);
      assert.ok(!root.some(([name]) => name === '.git'));
      const text = Buffer.from(await files.readFile(roomId, '/README.md')).toString('utf8');
      assert.match(text, /Hello Conductor/);
      await assert.rejects(files.stat(roomId, '/missing.txt'), (error: unknown) => error instanceof WorkspaceFsError && error.kind === 'FileNotFound');
    });

    it('honours create and overwrite flags', async () => {
      const files = new WorkspaceFiles(alice.api);
      await assert.rejects(files.writeFile(roomId, '/new.txt', Buffer.from('x'), { create: false, overwrite: true }),
        (error: unknown) => error instanceof WorkspaceFsError && error.kind === 'FileNotFound');
      await files.writeFile(roomId, '/new.txt', Buffer.from('first\n'), { create: true, overwrite: false });
      await assert.rejects(files.writeFile(roomId, '/new.txt', Buffer.from('x'), { create: true, overwrite: false }),
        (error: unknown) => error instanceof WorkspaceFsError && error.kind === 'FileExists');
      await files.writeFile(roomId, '/new.txt', Buffer.from('second\n'), { create: false, overwrite: true });
      assert.equal((await alice.api.readFile(roomId, 'new.txt')).content, 'second\n');
      const binary = new Uint8Array([0, 1, 2, 255]);
      await files.writeFile(roomId, '/bin/data.bin', binary, { create: true, overwrite: false });
      assert.deepEqual([...await new WorkspaceFiles(alice.api).readFile(roomId, '/bin/data.bin')], [...binary]);
    });

    it('refuses to overwrite a newer version written by someone else', async () => {
      const mine = new WorkspaceFiles(alice.api);
      const theirs = new WorkspaceFiles(alice.api);
      await mine.readFile(roomId, '/src/app.cs');
      await theirs.readFile(roomId, '/src/app.cs');
      await theirs.writeFile(roomId, '/src/app.cs', Buffer.from('// theirs\n'), { create: false, overwrite: true });
      await assert.rejects(mine.writeFile(roomId, '/src/app.cs', Buffer.from('// mine\n'), { create: false, overwrite: true }),
        (error: unknown) => error instanceof WorkspaceFsError && error.kind === 'Conflict' && /changed by someone else/.test(error.message));
      assert.equal((await alice.api.readFile(roomId, 'src/app.cs')).content, '// theirs\n');
      // After reading again (what "reopen" does) the write goes through.
      mine.invalidate(roomId, 'src/app.cs');
      await mine.readFile(roomId, '/src/app.cs');
      await mine.writeFile(roomId, '/src/app.cs', Buffer.from('// mine\n'), { create: false, overwrite: true });
      assert.equal((await alice.api.readFile(roomId, 'src/app.cs')).content, '// mine\n');
    });

    it('renames, creates folders, deletes files and folders', async () => {
      const files = new WorkspaceFiles(alice.api);
      await files.writeFile(roomId, '/docs/a.md', Buffer.from('a'), { create: true, overwrite: false });
      await files.rename(roomId, '/docs/a.md', '/docs/b.md', false);
      assert.equal((await files.stat(roomId, '/docs/b.md')).kind, 'file');
      await assert.rejects(files.stat(roomId, '/docs/a.md'), WorkspaceFsError);
      await files.writeFile(roomId, '/docs/c.md', Buffer.from('c'), { create: true, overwrite: false });
      await assert.rejects(files.rename(roomId, '/docs/c.md', '/docs/b.md', false), (error: unknown) => error instanceof WorkspaceFsError && error.kind === 'FileExists');
      await files.rename(roomId, '/docs/c.md', '/docs/b.md', true);
      assert.equal((await alice.api.readFile(roomId, 'docs/b.md')).content, 'c');

      await files.createDirectory(roomId, '/empty');
      assert.equal((await files.stat(roomId, '/empty')).kind, 'directory');
      assert.ok((await files.readDirectory(roomId, '/')).some(([name, kind]) => name === 'empty' && kind === 'directory'));
      await files.writeFile(roomId, '/empty/first.txt', Buffer.from('1'), { create: true, overwrite: false });
      assert.equal((await files.stat(roomId, '/empty')).kind, 'directory');

      await assert.rejects(files.delete(roomId, '/docs', false), (error: unknown) => error instanceof WorkspaceFsError && error.kind === 'NoPermissions');
      await files.delete(roomId, '/docs', true);
      assert.deepEqual(await alice.api.listFiles(roomId, 'docs', true), []);
      await files.delete(roomId, '/new.txt', false);
      await assert.rejects(alice.api.readFile(roomId, 'new.txt'), (error: unknown) => error instanceof ApiError && error.status === 404);
    });

    it('generates changes, evaluates the policy, applies one and audits the skipped one', async () => {
      const set = await alice.api.generateChanges(roomId, 'Add a note', ['README.md', 'src/app.cs']);
      assert.deepEqual(set.changes.map(c => [c.file_path, c.type]).sort(), [['README.md', 'modify'], ['src/app.cs', 'modify']]);
      const policy = await alice.api.evaluatePolicy(set.change_set_id);
      assert.ok(['apply_all', 'review_required', 'reject_all'].includes(policy.decision));
      assert.ok(Array.isArray(policy.reasons));
      const [readme, app] = [set.changes.find(c => c.file_path === 'README.md')!, set.changes.find(c => c.file_path === 'src/app.cs')!];
      const results = await alice.api.applyChanges(set.change_set_id, [readme.id]);
      assert.deepEqual(results.map(r => [r.file_path, r.outcome]), [['README.md', 'applied']]);
      await alice.api.logDecision(roomId, app.id, 'skipped', app.file_path);
      const audit = await alice.api.request<{ entries: Array<{ action: string; source: string; file_path: string }> }>('GET', '/audit', { query: { room_id: roomId } });
      assert.ok(audit.entries.some(e => e.action === 'applied' && e.file_path === 'README.md'), JSON.stringify(audit.entries));
      assert.ok(audit.entries.some(e => e.action === 'skipped' && e.source === 'client' && e.file_path === 'src/app.cs'), JSON.stringify(audit.entries));
      assert.match((await alice.api.readFile(roomId, 'README.md')).content, /Add a note/);
      // Applying it again is refused, not applied twice.
      const again = await alice.api.applyChanges(set.change_set_id, [readme.id]);
      assert.notEqual(again[0]?.outcome, 'applied');
    });

    it('searches and commits through the client', async () => {
      const hits = await alice.api.search(roomId, 'mine');
      assert.deepEqual(hits.map(h => [h.file_path, h.line]), [['src/app.cs', 1]]);
      const outcome = await alice.api.commit(roomId, 'From the extension tests', true, 60);
      assert.ok('committed' in outcome && outcome.committed && outcome.pushed, JSON.stringify(outcome));
    });
  });
});
