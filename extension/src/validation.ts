/**
 * Input checks for the create-workspace wizard and invite links. The Api checks again (it is the authority, e.g. it
 * refuses private hosts unless configured); these give the user an answer while they type.
 */

/**
 * A repository URL: https, or ssh (`ssh://[user@]host[:port]/path` or scp-like `user@host:path`). For local
 * development, `http://` to a loopback host and `file://` URLs are accepted too (the Api refuses them unless it was
 * started with Workspaces:AllowHttp / AllowFile). Returns an error message, or undefined when acceptable.
 */
export function validateRepositoryUrl(value: string): string | undefined {
  const text = value.trim();
  if (text.length === 0) {
    return 'Enter the repository URL (https://… or git@host:owner/repo.git).';
  }
  if (/\s/.test(text)) {
    return 'A repository URL has no spaces.';
  }
  const scpLike = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;
  if (scpLike.test(text)) {
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'Not a URL: use https://host/owner/repo.git or git@host:owner/repo.git.';
  }
  switch (url.protocol) {
    case 'https:':
    case 'http:':
      if (url.username || url.password) {
        return 'Leave credentials out of the URL: the token goes in the next step, where it is kept secret.';
      }
      if (url.search || url.hash) {
        return 'A repository URL has no query or fragment.';
      }
      if (!url.hostname) {
        return 'The URL needs a host.';
      }
      if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
        return 'Use https (plain http is only accepted for a server on this machine).';
      }
      return url.pathname.length > 1 ? undefined : 'The URL needs the repository path (https://host/owner/repo.git).';
    case 'ssh:':
      return url.hostname && url.pathname.length > 1 ? undefined : 'An ssh URL needs a host and a path (ssh://git@host/owner/repo.git).';
    case 'file:':
      return url.pathname.length > 1 ? undefined : 'A file URL needs the path of the repository.';
    default:
      return `Unsupported scheme ${url.protocol.replace(':', '')}: use https or ssh.`;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Git's ref-name rules (git check-ref-format) for a branch name. Returns an error message or undefined. */
export function validateBranchName(value: string): string | undefined {
  const name = value.trim();
  if (name.length === 0) {
    return 'Enter the branch to start from (e.g. main).';
  }
  if (name.length > 255) {
    return 'The branch name is too long (at most 255 characters).';
  }
  if (name === '@') {
    return 'A branch cannot be named "@".';
  }
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) {
    return 'A branch name cannot contain spaces, control characters or any of ~ ^ : ? * [ \\.';
  }
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return 'A branch name cannot start or end with "/" or contain "//".';
  }
  if (name.startsWith('-')) {
    return 'A branch name cannot start with "-".';
  }
  if (name.includes('..') || name.includes('@{')) {
    return 'A branch name cannot contain ".." or "@{".';
  }
  if (name.endsWith('.') || name.endsWith('.lock')) {
    return 'A branch name cannot end with "." or ".lock".';
  }
  if (name.split('/').some(part => part.startsWith('.'))) {
    return 'No part of a branch name can start with ".".';
  }
  return undefined;
}

/** Shows that a token was entered without showing it: the first 4 characters when long enough, then bullets. */
export function maskToken(token: string): string {
  if (token.length === 0) {
    return '(none)';
  }
  const visible = token.length >= 12 ? token.slice(0, 4) : '';
  return `${visible}${'•'.repeat(Math.min(Math.max(token.length - visible.length, 4), 16))}`;
}

/**
 * Takes what a user pasted to join a room: an invite link (`…/join?token=…`, or this extension's
 * `vscode://conductor.conductor-vscode/join?token=…`) or the bare token. Returns the token, or undefined.
 */
export function parseInvite(value: string): string | undefined {
  const text = value.trim();
  if (text.length === 0) {
    return undefined;
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text) || text.startsWith('/')) {
    try {
      const url = new URL(text, 'http://invite.invalid');
      const token = url.searchParams.get('token');
      return token && isTokenShaped(token) ? token : undefined;
    } catch {
      return undefined;
    }
  }
  return isTokenShaped(text) ? text : undefined;
}

function isTokenShaped(token: string): boolean {
  // Data Protection output is base64url; allow the standard alphabet too, and bound the size.
  return /^[A-Za-z0-9_\-+/=]{16,4096}$/.test(token);
}
