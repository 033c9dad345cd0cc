import * as assert from 'node:assert/strict';
import { maskToken, parseInvite, validateBranchName, validateRepositoryUrl } from '../../src/validation';

describe('validateRepositoryUrl', () => {
  for (const url of [
    'https://github.com/owner/repo.git',
    'https://gitlab.example.com/group/sub/repo',
    'ssh://git@github.com/owner/repo.git',
    'ssh://git@host:2222/owner/repo.git',
    'git@github.com:owner/repo.git',
    'http://127.0.0.1:8080/git/repo.git',
    'http://localhost/repo.git',
    'file:///srv/git/repo.git',
  ]) {
    it(`accepts ${url}`, () => assert.equal(validateRepositoryUrl(url), undefined));
  }

  for (const [url, reason] of [
    ['', /Enter the repository URL/],
    ['not a url', /no spaces/],
    ['github.com/owner/repo', /Not a URL/],
    ['http://github.com/owner/repo.git', /Use https/],
    ['https://user:secret@github.com/owner/repo.git', /credentials out of the URL/],
    ['https://github.com/owner/repo.git?x=1', /no query/],
    ['https://github.com/', /repository path/],
    ['ftp://example.com/repo.git', /Unsupported scheme ftp/],
    ['ext::sh -c id', /no spaces/],
  ] as const) {
    it(`refuses ${JSON.stringify(url)} with a reason`, () => assert.match(validateRepositoryUrl(url) ?? '', reason));
  }
});

describe('validateBranchName', () => {
  for (const name of ['main', 'release/1.2', 'feature/x-y_z', 'v1.0']) {
    it(`accepts ${name}`, () => assert.equal(validateBranchName(name), undefined));
  }
  for (const name of ['', 'a b', 'a..b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', '/a', 'a/', 'a//b', '-a', 'a.lock', 'a.', '.a', 'a/.b', '@', 'a@{b', 'x'.repeat(256)]) {
    it(`refuses ${JSON.stringify(name.length > 20 ? name.slice(0, 20) + '…' : name)}`, () => assert.notEqual(validateBranchName(name), undefined));
  }
});

describe('maskToken', () => {
  it('never shows a short token', () => {
    assert.equal(maskToken('abc'), '••••');
    assert.ok(!maskToken('secret12').includes('secret'));
  });
  it('shows only the first four characters of a long token', () => {
    const masked = maskToken('ghp_abcdefghijklmnopqrstuvwxyz');
    assert.ok(masked.startsWith('ghp_'));
    assert.ok(!masked.includes('abcd'));
  });
  it('says when there is no token', () => assert.equal(maskToken(''), '(none)'));
});

describe('parseInvite', () => {
  const token = 'CfDJ8Abc-def_ghiJKLmnopQRS123';
  it('takes the token from a web invite link', () => assert.equal(parseInvite(`https://conductor.example/join?token=${token}`), token));
  it('takes the token from a relative link', () => assert.equal(parseInvite(`/join?token=${token}`), token));
  it('takes the token from a vscode:// link', () => assert.equal(parseInvite(`vscode://conductor.conductor-vscode/join?token=${token}`), token));
  it('takes a bare token, trimmed', () => assert.equal(parseInvite(`  ${token}\n`), token));
  it('refuses a link without a token', () => assert.equal(parseInvite('https://conductor.example/join'), undefined));
  it('refuses text that is not a token', () => assert.equal(parseInvite('hello world'), undefined));
  it('refuses an empty paste', () => assert.equal(parseInvite(''), undefined));
});
