import type {
  AiStatus,
  ApplyResult,
  AuditEntry,
  CommandRun,
  ChangeSet,
  ChangeSetList,
  PolicyDecision,
  CommitResult,
  Conversation,
  NewConversation,
  FileContent,
  FileEntry,
  PersonalWorktree,
  PublishResult,
  SearchMatch,
  SyncResult,
  WorktreeChoice,
  SearchOptions,
  Workspace,
  CreatedRoom,
  GitHubDeviceResponse,
  Invite,
  RoomDetail,
  RoomSummary,
  SocketTicket,
  TokenResponse,
} from "./contracts";
import { ApiError, ApiUnavailableError, isProblemDetails } from "./errors";

/** Where the Api is: Conductor.Web forwards /api/** to it, so the browser stays on one origin. */
export const apiBase = "/api";

export type TokenSource = {
  accessToken(): Promise<string | null>;
  refresh(): Promise<{ accessToken: string } | null>;
};

type Fetch = typeof fetch;

/** Calls the Api with the current access token; a 401 gets one refresh and one retry. */
export class ApiClient {
  constructor(
    private readonly tokens: TokenSource,
    private readonly fetchImpl: Fetch = (input, init) => fetch(input, init),
  ) {}

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, extraHeaders?: Record<string, string>): Promise<T> {
    return readAnswer<T>(await this.exchange(method, path, body, signal, extraHeaders));
  }

  /** Like request, but also answers the response's ETag (conditional writes of workspace files). */
  async requestWithEtag<T>(method: string, path: string, body?: unknown, extraHeaders?: Record<string, string>): Promise<{ value: T; etag: string | null }> {
    const response = await this.exchange(method, path, body, undefined, extraHeaders);
    const etag = response.headers.get("ETag");
    return { value: await readAnswer<T>(response), etag };
  }

  private async exchange(method: string, path: string, body: unknown, signal?: AbortSignal, extraHeaders?: Record<string, string>): Promise<Response> {
    let token = await this.tokens.accessToken();
    let response = await this.send(method, path, body, token, signal, extraHeaders);
    if (response.status === 401 && token) {
      token = (await this.tokens.refresh())?.accessToken ?? null;
      if (token) {
        response = await this.send(method, path, body, token, signal, extraHeaders);
      }
    }
    return response;
  }

  private async send(method: string, path: string, body: unknown, token: string | null, signal?: AbortSignal,
    extraHeaders?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (token) {
      headers["Authorization"] = `Bearer ${token}`;
    }
    try {
      return await this.fetchImpl(apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") {
        throw error;
      }
      throw new ApiUnavailableError("network error");
    }
  }

  /** A single-use ticket for the next socket connect (docs/auth-and-rooms.md): sockets never carry the access token. */
  socketTicket(): Promise<SocketTicket> {
    return this.request("POST", "/auth/socket-ticket", {});
  }

  listRooms(): Promise<{ rooms: RoomSummary[] }> {
    return this.request("GET", "/rooms");
  }

  createRoom(name: string): Promise<CreatedRoom> {
    return this.request("POST", "/rooms", { name });
  }

  getRoom(roomId: string): Promise<RoomDetail> {
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}`);
  }

  createInvite(roomId: string): Promise<Invite> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/invites`, {});
  }

  joinRoom(token: string): Promise<{ room_id: string; role: string }> {
    return this.request("POST", "/rooms/join", { token });
  }

  transferHost(roomId: string, userId: string): Promise<{ room_id: string; host_user_id: string }> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/transfer-host`, { user_id: userId });
  }

  removeMember(roomId: string, userId: string): Promise<void> {
    return this.request("DELETE", `/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`);
  }

  endRoom(roomId: string): Promise<{ room_id: string; ended_at: string }> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/end`, {});
  }

  getWorkspace(roomId: string): Promise<Workspace> {
    return this.request("GET", `/workspace/${encodeURIComponent(roomId)}`);
  }

  createWorkspace(roomId: string, repoUrl: string, baseBranch: string, token: string): Promise<{ room_id: string; job_id: string; status: string }> {
    return this.request("POST", "/workspace/create", {
      room_id: roomId,
      repo_url: repoUrl,
      base_branch: baseBranch || undefined,
      token: token || undefined,
    });
  }

  listFiles(roomId: string, worktree: WorktreeChoice = "room"): Promise<FileEntry[]> {
    return this.request("GET", `/workspace/${encodeURIComponent(roomId)}/files?recursive=true${worktreeQuery(worktree)}`);
  }

  readFile(roomId: string, path: string, worktree: WorktreeChoice = "room"): Promise<FileContent> {
    return this.request("GET", `/workspace/${encodeURIComponent(roomId)}/file?path=${encodeURIComponent(path)}${worktreeQuery(worktree)}`);
  }

  /** Saves only if the file is still the version read (etag), or creates it only if it does not exist (etag null). */
  async writeFile(roomId: string, path: string, content: string, etag: string | null, worktree: WorktreeChoice = "room"): Promise<string> {
    const answer = await this.requestWithEtag<{ path: string; size: number; etag: string }>(
      "PUT",
      `/workspace/${encodeURIComponent(roomId)}/file?path=${encodeURIComponent(path)}${worktreeQuery(worktree)}`,
      { content, encoding: "utf-8" },
      etag ? { "If-Match": etag } : { "If-None-Match": "*" },
    );
    return answer.value.etag;
  }

  deleteFile(roomId: string, path: string, etag: string | null, worktree: WorktreeChoice = "room"): Promise<void> {
    return this.request("DELETE", `/workspace/${encodeURIComponent(roomId)}/file?path=${encodeURIComponent(path)}${worktreeQuery(worktree)}`, undefined, undefined,
      etag ? { "If-Match": etag } : undefined);
  }

  renameFile(roomId: string, from: string, to: string, worktree: WorktreeChoice = "room"): Promise<{ path: string }> {
    return this.request("POST", `/workspace/${encodeURIComponent(roomId)}/rename${worktreeQuery(worktree).replace("&", "?")}`, { from, to });
  }

  /** The signed-in member's own worktree (made from the room's branch the first time). */
  myWorktree(roomId: string): Promise<PersonalWorktree> {
    return this.request("GET", `/workspace/${encodeURIComponent(roomId)}/worktrees/me`);
  }

  /** Commits the member's worktree and merges it into the room's branch; a 409 `sync_conflicts` problem lists the files. */
  sync(roomId: string, message?: string): Promise<SyncResult> {
    return this.request("POST", `/workspace/${encodeURIComponent(roomId)}/sync`, { message: message || undefined });
  }

  /** Sync, then the server pushes the room's branch to origin. */
  publish(roomId: string, message?: string): Promise<PublishResult> {
    return this.request("POST", `/workspace/${encodeURIComponent(roomId)}/publish`, { message: message || undefined });
  }

  /** Waits up to 30 s for the commit job; a 202 (still running) answers null. */
  async commit(roomId: string, message: string, push: boolean): Promise<CommitResult | null> {
    const answer = await this.request<CommitResult | { job_id: string }>(
      "POST", `/workspace/${encodeURIComponent(roomId)}/commit?wait=30`, { message, push });
    return "committed" in answer ? answer : null;
  }

  aiStatus(): Promise<AiStatus> {
    return this.request("GET", "/ai/status");
  }

  selectProvider(name: string): Promise<{ active_provider: string }> {
    return this.request("POST", "/ai/select", { provider_name: name });
  }

  /** POST /ai/infer: the response body is an event stream (read it with readEventData). */
  async infer(prompt: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await this.exchange("POST", "/ai/infer", { prompt }, signal, { Accept: "text/event-stream" });
    if (!response.ok || !response.body) {
      return readAnswer<never>(response);
    }
    return response.body;
  }

  /** POST /workspace/{room_id}/commands as an event stream: started, output, finished (read it with readEventData). */
  async runCommand(roomId: string, command: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await this.exchange("POST", `/workspace/${encodeURIComponent(roomId)}/commands`, { command }, signal, { Accept: "text/event-stream" });
    if (!response.ok || !response.body) {
      return readAnswer<never>(response);
    }
    return response.body;
  }

  cancelCommand(roomId: string, commandId: string): Promise<CommandRun> {
    return this.request("POST", `/workspace/${encodeURIComponent(roomId)}/commands/${encodeURIComponent(commandId)}/cancel`, {});
  }

  listCommands(roomId: string): Promise<CommandRun[]> {
    return this.request("GET", `/workspace/${encodeURIComponent(roomId)}/commands?limit=10`);
  }

  generateChanges(roomId: string, instruction: string, files: string[]): Promise<ChangeSet> {
    return this.request("POST", "/generate-changes", { room_id: roomId, instruction, files });
  }

  /** The room's change sets, newest first: those with a change still to decide, or all of them. */
  listChangeSets(roomId: string, status: "pending" | "all" = "pending", before?: string): Promise<ChangeSetList> {
    const query = new URLSearchParams({ status, limit: "50" });
    if (before) query.set("before", before);
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/change-sets?${query}`);
  }

  getChangeSet(changeSetId: string): Promise<ChangeSet> {
    return this.request("GET", `/changes/${encodeURIComponent(changeSetId)}`);
  }

  evaluatePolicy(changeSetId: string): Promise<PolicyDecision> {
    return this.request("POST", "/policy/evaluate-auto-apply", { change_set_id: changeSetId });
  }

  /** Applies the changes; a partly refused apply answers each change's outcome too (from the 409 problem). */
  async applyChanges(changeSetId: string, changeIds: string[]): Promise<ApplyResult[]> {
    try {
      const answer = await this.request<{ results: ApplyResult[] }>("POST", `/changes/${encodeURIComponent(changeSetId)}/apply`, { change_ids: changeIds });
      return answer.results;
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && error.problem.results) {
        return error.problem.results;
      }
      throw error;
    }
  }

  logDecision(roomId: string, changeId: string, action: "applied" | "skipped", filePath: string): Promise<unknown> {
    return this.request("POST", "/audit/log-apply", { room_id: roomId, change_id: changeId, action, file_path: filePath });
  }

  audit(roomId: string): Promise<{ room_id: string; entries: AuditEntry[] }> {
    return this.request("GET", `/audit?room_id=${encodeURIComponent(roomId)}&limit=200`);
  }

  startConversation(roomId: string, conversation: NewConversation): Promise<Conversation> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/conversations`, conversation);
  }

  listConversations(roomId: string): Promise<{ room_id: string; conversations: Conversation[] }> {
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/conversations`);
  }

  stopConversation(roomId: string, conversationId: string): Promise<Conversation> {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/conversations/${encodeURIComponent(conversationId)}/stop`, {});
  }

  updateConversationBot(roomId: string, conversationId: string, index: number,
    change: { instructions?: string; model?: string; provider?: string }): Promise<Conversation> {
    return this.request("PATCH", `/rooms/${encodeURIComponent(roomId)}/conversations/${encodeURIComponent(conversationId)}/bots/${index}`, change);
  }

  /** GET .../stream: an event stream (read it with readEvents); resumes after lastEventId when given. */
  async streamConversation(roomId: string, conversationId: string, lastEventId: string | null, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const response = await this.exchange("GET", `/rooms/${encodeURIComponent(roomId)}/conversations/${encodeURIComponent(conversationId)}/stream`,
      undefined, signal, headers);
    if (!response.ok || !response.body) {
      return readAnswer<never>(response);
    }
    return response.body;
  }

  /** The export.json or export.md of a conversation, as text (to save as a file). */
  async exportConversation(roomId: string, conversationId: string, format: "json" | "md"): Promise<string> {
    const response = await this.exchange("GET",
      `/rooms/${encodeURIComponent(roomId)}/conversations/${encodeURIComponent(conversationId)}/export.${format}`, undefined, undefined,
      { Accept: format === "md" ? "text/markdown" : "application/json" });
    if (!response.ok) {
      return readAnswer<never>(response);
    }
    return response.text();
  }

  search(roomId: string, options: SearchOptions, signal?: AbortSignal, worktree: WorktreeChoice = "room"): Promise<SearchMatch[]> {
    const query = new URLSearchParams({
      q: options.q,
      max_results: "200",
      regex: String(options.regex),
      case_sensitive: String(options.caseSensitive),
      whole_word: String(options.wholeWord),
    });
    options.include.forEach((glob) => query.append("include", glob));
    options.exclude.forEach((glob) => query.append("exclude", glob));
    return this.request("GET", `/workspace/${encodeURIComponent(roomId)}/search?${query}${worktreeQuery(worktree)}`, undefined, signal);
  }
}

/** Sign-in calls need no token. */
export class AuthClient {
  constructor(private readonly fetchImpl: Fetch = (input, init) => fetch(input, init)) {}

  devLogin(login: string): Promise<TokenResponse> {
    return this.post("/auth/dev", { login });
  }

  refresh(refreshToken: string): Promise<TokenResponse> {
    return this.post("/auth/refresh", { refresh_token: refreshToken });
  }

  revoke(refreshToken: string): Promise<void> {
    return this.post("/auth/revoke", { refresh_token: refreshToken });
  }

  startGitHubDeviceFlow(): Promise<GitHubDeviceResponse> {
    return this.post("/auth/github/device", {});
  }

  /** 202 while the user has not approved yet ({status, interval}); 200 with tokens when they have. */
  async pollGitHub(deviceCode: string): Promise<TokenResponse | { status: string; interval: number }> {
    return this.post("/auth/github/poll", { device_code: deviceCode });
  }

  /** Whether the Api answers at all (through the proxy). */
  async health(): Promise<boolean> {
    try {
      const response = await this.fetchImpl(`${apiBase}/health`);
      return response.ok;
    } catch {
      return false;
    }
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.fetchImpl(apiBase + path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      throw new ApiUnavailableError("network error");
    }
    return readAnswer<T>(response);
  }
}

async function readAnswer<T>(response: Response): Promise<T> {
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (response.ok) {
    return parsed as T;
  }
  if (isGatewayFailure(response.status, parsed)) {
    throw new ApiUnavailableError(`HTTP ${response.status}`);
  }
  throw new ApiError(response.status, isProblemDetails(parsed) ? parsed : {});
}

/**
 * The proxy could not reach the Api: a 502/503/504 that is not one of the Api's own problems (those carry a detail,
 * a code or errors; the web host's generic status page carries only the status and its title).
 */
export function isGatewayFailure(status: number, body: unknown): boolean {
  if (status !== 502 && status !== 503 && status !== 504) {
    return false;
  }
  return !isProblemDetails(body) || (!body.detail && !body.code && !body.errors && !body.error);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `&worktree=me` for the member's own worktree; nothing for the room's (the Api's default). */
export function worktreeQuery(worktree: WorktreeChoice): string {
  return worktree === "me" ? "&worktree=me" : "";
}
