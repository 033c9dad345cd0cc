import { EventStreamParser, type CommandRun, type StreamEvent } from '../commands/commandStream';
import { EventStreamParser as ConversationStreamParser, type StreamFrame } from '../conversations/conversationStream';
import { ApiError, BackendUnreachableError, NotSignedInError } from './errors';
import type {
  AiStatus, ApplyResult, ChangeSet, ChatMessage, CommitOutcome, Conversation, DeviceFlowStart, DevicePoll, FileContent,
  FileEntry, FileWritten, Invite, JobStatus, JoinedRoom, Me, NewConversation, NewMessage, PolicyEvaluation, PresentUser,
  PublishOutcome, RoomCreated, RoomDetails, SearchHit, SearchOptions, SocketTarget, SyncOutcome, TokenResponse, UploadedFile,
  Workspace, WorkspaceAccepted,
} from './types';

/** Supplies a fresh access token for each request (refreshing it first when it is about to expire). */
export type AccessTokenSource = () => Promise<string>;

export interface WriteConditions {
  /** The etag the caller last read: the write fails with 412 when someone changed the file since. */
  readonly ifMatch?: string;
  /** Create only: the write fails with 412 when the file exists. */
  readonly createOnly?: boolean;
}

type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly anonymous?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * The Api's HTTP surface as the extension uses it. One method per endpoint; answers are the documented contracts;
 * refusals become {@link ApiError} (problem details), network failures {@link BackendUnreachableError}.
 */
export class ConductorApi {
  constructor(
    readonly baseUrl: string,
    private readonly accessToken: AccessTokenSource = () => Promise.reject(new NotSignedInError()),
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  withAccessToken(source: AccessTokenSource): ConductorApi {
    return new ConductorApi(this.baseUrl, source, this.fetchImpl);
  }

  // Auth -----------------------------------------------------------------------------------------------------------

  /** True when the Api offers POST /auth/dev (Auth:DevLogin): an empty body is a 400 then, a 404 otherwise. */
  async isDevLoginEnabled(): Promise<boolean> {
    try {
      await this.request('POST', '/auth/dev', { body: {}, anonymous: true });
      return true;
    } catch (error) {
      if (error instanceof ApiError) {
        return error.status !== 404;
      }
      throw error;
    }
  }

  devLogin(login: string): Promise<TokenResponse> {
    return this.request('POST', '/auth/dev', { body: { login }, anonymous: true });
  }

  startDeviceFlow(): Promise<DeviceFlowStart> {
    return this.request('POST', '/auth/github/device', { anonymous: true });
  }

  async pollDeviceFlow(deviceCode: string): Promise<DevicePoll> {
    const { status, body } = await this.send('POST', '/auth/github/poll', { body: { device_code: deviceCode }, anonymous: true });
    if (status === 202) {
      const pending = body as { status: 'authorization_pending' | 'slow_down'; interval: number };
      return { kind: 'pending', status: pending.status, interval: pending.interval };
    }
    return { kind: 'tokens', tokens: body as TokenResponse };
  }

  refresh(refreshToken: string): Promise<TokenResponse> {
    return this.request('POST', '/auth/refresh', { body: { refresh_token: refreshToken }, anonymous: true });
  }

  async revoke(refreshToken: string): Promise<void> {
    await this.request('POST', '/auth/revoke', { body: { refresh_token: refreshToken }, anonymous: true });
  }

  me(): Promise<Me> {
    return this.request('GET', '/auth/me');
  }

  // Rooms ----------------------------------------------------------------------------------------------------------

  createRoom(name: string): Promise<RoomCreated> {
    return this.request('POST', '/rooms', { body: { name } });
  }

  getRoom(roomId: string): Promise<RoomDetails> {
    return this.request('GET', `/rooms/${enc(roomId)}`);
  }

  createInvite(roomId: string, expiresInSeconds?: number): Promise<Invite> {
    return this.request('POST', `/rooms/${enc(roomId)}/invites`, { body: expiresInSeconds ? { expires_in_seconds: expiresInSeconds } : {} });
  }

  joinRoom(token: string): Promise<JoinedRoom> {
    return this.request('POST', '/rooms/join', { body: { token } });
  }

  async leaveRoom(roomId: string, userId: string): Promise<void> {
    await this.request('DELETE', `/rooms/${enc(roomId)}/members/${enc(userId)}`);
  }

  // Chat -----------------------------------------------------------------------------------------------------------

  chatHistory(roomId: string, query: { since?: string; before?: string; limit?: number } = {}): Promise<ChatMessage[]> {
    return this.request('GET', `/chat/${enc(roomId)}/history`, { query });
  }

  postMessage(roomId: string, message: NewMessage): Promise<ChatMessage> {
    return this.request('POST', `/chat/${enc(roomId)}/messages`, { body: message });
  }

  presence(roomId: string): Promise<PresentUser[]> {
    return this.request('GET', `/chat/${enc(roomId)}/presence`);
  }

  /** The room's raw WebSocket: the token goes in the Authorization header (`ws` can set it), never in the URL. */
  roomSocket(roomId: string, accessToken: string): SocketTarget {
    return this.socketTarget(`/ws/${enc(roomId)}`, accessToken);
  }

  private socketTarget(path: string, accessToken: string, query: Record<string, string> = {}): SocketTarget {
    const url = new URL(path, this.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    for (const [name, value] of Object.entries(query)) {
      url.searchParams.set(name, value);
    }
    return { url: url.toString(), headers: { Authorization: `Bearer ${accessToken}` } };
  }

  // Workspaces -----------------------------------------------------------------------------------------------------

  createWorkspace(roomId: string, repoUrl: string, baseBranch: string, token: string | undefined): Promise<WorkspaceAccepted> {
    return this.request('POST', '/workspace/create', { body: { room_id: roomId, repo_url: repoUrl, base_branch: baseBranch, token } });
  }

  getWorkspace(roomId: string): Promise<Workspace> {
    return this.request('GET', `/workspace/${enc(roomId)}`);
  }

  getJob(jobId: string): Promise<JobStatus> {
    return this.request('GET', `/jobs/${enc(jobId)}`);
  }

  listFiles(roomId: string, path: string | undefined, recursive = false): Promise<FileEntry[]> {
    return this.request('GET', `/workspace/${enc(roomId)}/files`, { query: { path: path || undefined, recursive } });
  }

  readFile(roomId: string, path: string): Promise<FileContent> {
    return this.request('GET', `/workspace/${enc(roomId)}/file`, { query: { path } });
  }

  writeFile(roomId: string, path: string, content: Uint8Array, conditions: WriteConditions = {}): Promise<FileWritten> {
    const headers: Record<string, string> = {};
    if (conditions.ifMatch) {
      headers['If-Match'] = conditions.ifMatch;
    }
    if (conditions.createOnly) {
      headers['If-None-Match'] = '*';
    }
    const body = isUtf8Text(content)
      ? { content: Buffer.from(content).toString('utf8'), encoding: 'utf-8' }
      : { content: Buffer.from(content).toString('base64'), encoding: 'base64' };
    return this.request('PUT', `/workspace/${enc(roomId)}/file`, { query: { path }, body, headers });
  }

  async deleteFile(roomId: string, path: string, ifMatch?: string): Promise<void> {
    await this.request('DELETE', `/workspace/${enc(roomId)}/file`, { query: { path }, headers: ifMatch ? { 'If-Match': ifMatch } : {} });
  }

  rename(roomId: string, from: string, to: string): Promise<{ path: string }> {
    return this.request('POST', `/workspace/${enc(roomId)}/rename`, { body: { from, to } });
  }

  search(roomId: string, q: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    return this.request('GET', `/workspace/${enc(roomId)}/search`, {
      query: {
        q,
        max_results: options.maxResults,
        case_sensitive: options.caseSensitive,
        regex: options.regex,
        whole_word: options.wholeWord,
      },
    });
  }

  /** Commit (and push) and wait up to `waitSeconds` for the job: the outcome, or the job id when still running. */
  async commit(roomId: string, message: string, push: boolean, waitSeconds: number): Promise<CommitOutcome | { job_id: string }> {
    const { status, body } = await this.send('POST', `/workspace/${enc(roomId)}/commit`, { query: { wait: waitSeconds }, body: { message, push } });
    return status === 202 ? { job_id: (body as { job_id: string }).job_id } : (body as CommitOutcome);
  }

  /** Commits the caller's own worktree in the room and merges it into the room's branch (409 `sync_conflicts` when it cannot). */
  sync(roomId: string, message?: string): Promise<SyncOutcome> {
    return this.request('POST', `/workspace/${enc(roomId)}/sync`, { body: { message } });
  }

  /** Sync, then the server pushes the room's branch to origin. */
  publish(roomId: string, message?: string): Promise<PublishOutcome> {
    return this.request('POST', `/workspace/${enc(roomId)}/publish`, { body: { message } });
  }

  // Changes, policy, audit -----------------------------------------------------------------------------------------

  generateChanges(roomId: string, instruction: string, files: readonly string[]): Promise<ChangeSet> {
    return this.request('POST', '/generate-changes', { body: { room_id: roomId, instruction, files } });
  }

  evaluatePolicy(changeSetId: string): Promise<PolicyEvaluation> {
    return this.request('POST', '/policy/evaluate-auto-apply', { body: { change_set_id: changeSetId } });
  }

  async applyChanges(changeSetId: string, changeIds: readonly string[]): Promise<ApplyResult[]> {
    const { body } = await this.send('POST', `/changes/${enc(changeSetId)}/apply`, { body: { change_ids: changeIds } }, [409]);
    return (body as { results: ApplyResult[] }).results;
  }

  async logDecision(roomId: string, changeId: string, action: 'applied' | 'skipped', filePath: string): Promise<void> {
    await this.request('POST', '/audit/log-apply', { body: { room_id: roomId, change_id: changeId, action, file_path: filePath } });
  }

  // AI providers ---------------------------------------------------------------------------------------------------

  aiStatus(): Promise<AiStatus> {
    return this.request('GET', '/ai/status');
  }

  selectProvider(name: string): Promise<{ active_provider: string }> {
    return this.request('POST', '/ai/select', { body: { provider_name: name } });
  }

  /**
   * `POST /ai/infer` as server-sent events: calls `onToken` per chunk as the provider streams it; resolves at
   * `[DONE]`, rejects with the provider's reason on an `error` event. Abort with `signal` to cancel the provider call.
   */
  async infer(prompt: string, onToken: (token: string) => void, signal?: AbortSignal): Promise<void> {
    const response = await this.fetchRaw('POST', '/ai/infer', { body: { prompt }, signal, headers: { Accept: 'text/event-stream' } });
    if (!response.ok || !response.body) {
      const text = await response.text();
      throw toApiError(response, isJson(response) ? safeParse(text) : undefined);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error('The answer stream ended before [DONE].');
      }
      buffer += decoder.decode(value, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const data = event.split('\n').filter(line => line.startsWith('data:')).map(line => line.slice(5).trimStart()).join('\n');
        if (data === '[DONE]') {
          await reader.cancel().catch(() => undefined);
          return;
        }
        const parsed = safeParse(data) as { token?: string; error?: string } | undefined;
        if (parsed?.error) {
          throw new Error(`The AI provider failed: ${parsed.error}`);
        }
        if (typeof parsed?.token === 'string') {
          onToken(parsed.token);
        }
      }
    }
  }

  // Agent conversations --------------------------------------------------------------------------------------------

  startConversation(roomId: string, conversation: NewConversation): Promise<Conversation> {
    return this.request('POST', `/rooms/${enc(roomId)}/conversations`, { body: conversation });
  }

  async listConversations(roomId: string): Promise<readonly Conversation[]> {
    return (await this.request<{ conversations: Conversation[] }>('GET', `/rooms/${enc(roomId)}/conversations`)).conversations;
  }

  stopConversation(roomId: string, conversationId: string): Promise<Conversation> {
    return this.request('POST', `/rooms/${enc(roomId)}/conversations/${enc(conversationId)}/stop`, { body: {} });
  }

  async exportConversationMarkdown(roomId: string, conversationId: string): Promise<string> {
    const response = await this.fetchRaw('GET', `/rooms/${enc(roomId)}/conversations/${enc(conversationId)}/export.md`, { headers: { Accept: 'text/markdown' } });
    const text = await response.text();
    if (!response.ok) {
      throw toApiError(response, isJson(response) ? safeParse(text) : undefined);
    }
    return text;
  }

  /**
   * `GET .../stream` as server-sent events, resumed after `lastEventId` when given: calls `onFrame` per event and
   * resolves when the stream ends (after `done`, or when the connection dropped: resume with the last frame's id).
   */
  async streamConversation(roomId: string, conversationId: string, lastEventId: string | undefined, onFrame: (frame: StreamFrame) => void,
    signal?: AbortSignal): Promise<void> {
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (lastEventId) {
      headers['Last-Event-ID'] = lastEventId;
    }
    const response = await this.fetchRaw('GET', `/rooms/${enc(roomId)}/conversations/${enc(conversationId)}/stream`, { headers, signal });
    if (!response.ok || !response.body) {
      const text = await response.text();
      throw toApiError(response, isJson(response) ? safeParse(text) : undefined);
    }
    const parser = new ConversationStreamParser(lastEventId);
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      parser.push(decoder.decode(value, { stream: true })).forEach(onFrame);
    }
  }

  // Commands and the shared terminal (docs/commands.md, docs/terminal.md) ------------------------------------------

  /**
   * Runs an allowlisted command as an event stream: calls `onEvent` for `started`, each `output` and `finished`;
   * resolves when the stream ends. Abort with `signal` to stop reading (the command keeps running: cancel it).
   */
  async runCommand(roomId: string, command: string, onEvent: (event: StreamEvent) => void, signal?: AbortSignal): Promise<void> {
    const response = await this.fetchRaw('POST', `/workspace/${enc(roomId)}/commands`, { body: { command }, signal, headers: { Accept: 'text/event-stream' } });
    if (!response.ok || !response.body) {
      const text = await response.text();
      throw toApiError(response, isJson(response) ? safeParse(text) : undefined);
    }
    const parser = new EventStreamParser();
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        parser.push(decoder.decode() + '\n\n').forEach(onEvent);
        return;
      }
      parser.push(decoder.decode(value, { stream: true })).forEach(onEvent);
    }
  }

  cancelCommand(roomId: string, commandId: string): Promise<CommandRun> {
    return this.request('POST', `/workspace/${enc(roomId)}/commands/${enc(commandId)}/cancel`, { body: {} });
  }

  terminalSocket(roomId: string, terminalId: string, accessToken: string, cols: number, rows: number): SocketTarget {
    return this.socketTarget(`/ws/terminal/${enc(roomId)}/${enc(terminalId)}`, accessToken, { cols: String(cols), rows: String(rows) });
  }

  // Shared files ---------------------------------------------------------------------------------------------------

  uploadFile(roomId: string, name: string, bytes: Uint8Array, contentType: string): Promise<UploadedFile> {
    const form = new FormData();
    form.append('room_id', roomId);
    form.append('file', new Blob([new Uint8Array(bytes)], { type: contentType }), name);
    return this.request('POST', '/files/upload', { body: form });
  }

  // Plumbing -------------------------------------------------------------------------------------------------------

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.send(method, path, options)).body as T;
  }

  private async send(method: string, path: string, options: RequestOptions, acceptedErrors: readonly number[] = []):
    Promise<{ status: number; body: unknown }> {
    const response = await this.fetchRaw(method, path, options);
    const text = await response.text();
    const parsed = text.length > 0 && isJson(response) ? safeParse(text) : undefined;
    if (response.ok || acceptedErrors.includes(response.status)) {
      return { status: response.status, body: parsed };
    }
    throw toApiError(response, parsed);
  }

  private async fetchRaw(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) {
        continue;
      }
      if (Array.isArray(value)) {
        for (const item of value) {
          url.searchParams.append(name, String(item));
        }
      } else {
        url.searchParams.set(name, String(value));
      }
    }
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (!options.anonymous) {
      headers.Authorization = `Bearer ${await this.accessToken()}`;
    }
    let body: string | FormData | undefined;
    if (options.body instanceof FormData) {
      body = options.body;
    } else if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    try {
      return await this.fetchImpl(url, { method, headers, body, signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) {
        throw error;
      }
      throw new BackendUnreachableError(this.baseUrl, error);
    }
  }
}

function toApiError(response: Response, body: unknown): ApiError {
  const problem = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const title = typeof problem.title === 'string' ? problem.title : response.statusText || `HTTP ${response.status}`;
  const detail = typeof problem.detail === 'string' ? problem.detail : undefined;
  const code = typeof problem.code === 'string' ? problem.code : typeof problem.error === 'string' ? problem.error : undefined;
  return new ApiError(response.status, title, detail, code);
}

function isJson(response: Response): boolean {
  const type = response.headers.get('content-type') ?? '';
  return type.includes('json');
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/** UTF-8 without NUL goes as text (readable in the Api's logs of sizes and in diffs); anything else as base64. */
export function isUtf8Text(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) {
    return false;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export function decodeFileContent(file: FileContent): Uint8Array {
  return file.encoding === 'base64' ? new Uint8Array(Buffer.from(file.content, 'base64')) : new Uint8Array(Buffer.from(file.content, 'utf8'));
}
