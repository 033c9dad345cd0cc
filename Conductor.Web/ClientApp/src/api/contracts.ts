// The Api's wire contracts (snake_case JSON), as documented in docs/auth-and-rooms.md and docs/chat.md.

export interface UserInfo {
  id: string;
  login: string;
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
  user: UserInfo;
}

/** A single-use ticket for one WebSocket connect: browsers cannot set headers there, and a URL must never hold the access token. */
export interface SocketTicket {
  ticket: string;
  expires_in: number;
}

export interface GitHubDeviceResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  interval: number;
  expires_in: number;
}

export interface RoomSummary {
  room_id: string;
  name: string;
  role: string;
  host_user_id: string;
  created_at: string;
  ended_at: string | null;
}

export interface RoomMember {
  user_id: string;
  login: string;
  role: string;
  joined_at: string;
  online: boolean | null;
}

export interface RoomDetail extends RoomSummary {
  members: RoomMember[];
}

export interface CreatedRoom {
  room_id: string;
  name: string;
  role: string;
  created_at: string;
}

export interface Invite {
  token: string;
  url: string;
  expires_at: string;
  single_use: boolean;
}

export interface CodeSnippet {
  file: string;
  language: string;
  start_line: number;
  end_line: number;
  code: string;
}

export interface FileRef {
  file_id: string;
  name: string;
  size?: number;
  content_type?: string;
}

export type MessageKind = "text" | "code_snippet" | "file" | "system" | "ai";

export interface ChatMessage {
  id: string;
  room_id: string;
  seq: number;
  user_id: string | null;
  login: string | null;
  kind: MessageKind;
  content: string | CodeSnippet | FileRef;
  timestamp: string;
  reply_to?: string;
}

export interface TypingUser {
  user_id: string;
  login: string;
  expires_at: string;
}

export interface OnlineUser {
  user_id: string;
  login: string;
}

export interface JoinRoomResult {
  room_id: string;
  messages: ChatMessage[];
  typing: TypingUser[];
  online: OnlineUser[];
}

/** A streamed AI answer's frames (hub events AiStart, AiToken, AiTool, AiDone; socket frames ai_*). docs/chat.md. */
export interface AiStartFrame {
  type: "ai_start";
  room_id: string;
  message_id: string;
  reply_to: string;
  login: string;
  provider: string;
  asked_by: string;
  started_at: string;
}

export interface AiTokenFrame {
  type: "ai_token";
  room_id: string;
  message_id: string;
  index: number;
  text: string;
}

export interface AiToolFrame {
  type: "ai_tool";
  room_id: string;
  message_id: string;
  name: string;
  detail: string;
}

export type AiAnswerStatus = "streaming" | "completed" | "stopped" | "failed";

export interface AiDoneFrame {
  type: "ai_done";
  room_id: string;
  message_id: string;
  status: Exclude<AiAnswerStatus, "streaming">;
  error?: string;
  stopped_by?: string;
}

/** A room event relayed by the hub (membership changes, jobs, the end of the session). */
export interface RoomEvent {
  type: string;
  room_id: string;
  user_id?: string;
  login?: string;
  role?: string;
  by_user_id?: string;
  at?: string;
  /** job: progress (0..1 or a percentage) and git's progress line. */
  progress?: number;
  message?: string;
  /** workspace: its new status, the failure reason, the head commit. */
  status?: string;
  error?: string;
  head_commit?: string;
  /** file_changed: the path, what happened, and the old path of a rename. */
  path?: string;
  change?: string;
  from?: string;
  /** command_*: the run, its argv, a piece of output (seq, text), and how it ended. */
  command_id?: string;
  argv?: string[];
  seq?: number;
  text?: string;
  exit_code?: number;
  duration_ms?: number;
  reason?: string;
  /** terminal_opened / terminal_closed. */
  terminal_id?: string;
  /** change_set_proposed / change_reviewed: the set, the change, its file, how it was proposed and the verdict. */
  change_set_id?: string;
  change_id?: string;
  file_path?: string;
  source?: string;
  agent?: string;
  changes?: number;
  decision?: string;
  detail?: string;
  /** The room event log's id (the SSE stream resumes from it). */
  event_id?: string;
}

/** One command run (docs/commands.md). */
export interface CommandRun {
  id: string;
  room_id: string;
  user_id: string;
  login: string;
  argv: string[];
  status: "running" | "succeeded" | "failed" | "timed_out" | "cancelled" | "output_limit" | "error";
  /** The Api leaves out members that would be null (a running command has no exit code, end or duration yet). */
  exit_code?: number | null;
  timeout_s: number;
  started_at: string;
  finished_at?: string | null;
  duration_ms?: number | null;
  output_bytes: number;
  output_truncated: boolean;
  output_tail?: string | null;
}

/** RFC 7807 problem details, with the Api's optional error code. */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  error?: string;
  errors?: Record<string, string[]> | string[];
  /** Per-change outcomes of a partly refused apply (409). */
  results?: ApplyResult[];
}

export interface Workspace {
  room_id: string;
  repo_url: string;
  base_branch: string;
  branch: string;
  status: "creating" | "ready" | "failed" | "deleting" | string;
  error: string | null;
  head_commit: string | null;
}

/** Which worktree of a room file operations act on: the room's shared one, or the signed-in member's own. */
export type WorktreeChoice = "room" | "me";

/** GET /workspace/{room}/worktrees/me: the member's own worktree against the room's branch. */
export interface PersonalWorktree {
  room_id: string;
  login: string;
  branch: string;
  room_branch: string;
  head_commit: string;
  room_commit: string;
  ahead: number;
  behind: number;
  changed_files: number;
}

export interface SyncResult {
  room_id: string;
  login: string;
  status: "up_to_date" | "fast_forward" | "merged" | string;
  branch: string;
  member_branch: string;
  committed: string | null;
  base_commit: string;
  head_commit: string;
}

export interface PublishResult {
  sync: SyncResult;
  pushed: boolean;
  push_error: string | null;
}

/** One file that stopped a sync (409 problem `sync_conflicts`): the base, the room's side and the member's side. */
export interface SyncConflict {
  path: string;
  kind: "content" | "worktree" | string;
  base: string | null;
  ours: string | null;
  theirs: string | null;
  binary: boolean;
  truncated: boolean;
}

export interface FileEntry {
  path: string;
  type: "file" | "directory" | string;
  size: number;
  mtime: string;
}

export interface FileContent {
  path: string;
  content: string;
  encoding: "utf-8" | "base64";
  size: number;
  etag: string;
}

export interface SearchMatch {
  file_path: string;
  line: number;
  column: number;
  content: string;
}

export interface SearchOptions {
  q: string;
  regex: boolean;
  caseSensitive: boolean;
  wholeWord: boolean;
  include: string[];
  exclude: string[];
}

export type CommitResult =
  | { committed: true; commit: string; pushed: boolean; push_error: string | null }
  | { committed: false; reason: string };

export interface AiProvider {
  name: string;
  kind: string;
  model: string;
  available: boolean;
  latency_ms: number | null;
  error?: string | null;
}

export interface AiStatus {
  providers: AiProvider[];
  active_provider: string;
}

export interface Change {
  id: string;
  file_path: string;
  type: "create" | "modify" | "delete";
  content: string | null;
  diff: string;
  rationale: string;
  /** Where its review stands (docs/changes-and-policy.md). */
  status: ChangeStatus;
  /** Why it was refused. */
  detail?: string;
}

export type ChangeStatus = "pending" | "applied" | "skipped" | "refused";

/** ai: generated by a provider; mcp: written by a member's coding agent. */
export type ChangeSource = "ai" | "mcp";

export interface ChangeSet {
  change_set_id: string;
  room_id: string;
  created_by: string;
  created_by_login?: string;
  source: ChangeSource;
  agent: string;
  provider: string;
  model: string;
  instruction: string;
  created_at: string;
  context_files: string[];
  changes: Change[];
}

/** A change set in the room's list (GET /rooms/{room_id}/change-sets). */
export interface ChangeSetSummary {
  change_set_id: string;
  created_by: string;
  created_by_login: string;
  source: ChangeSource;
  agent: string;
  provider: string;
  model: string;
  instruction: string;
  created_at: string;
  policy: PolicyDecision;
  changes: number;
  pending: number;
  applied: number;
  skipped: number;
  refused: number;
  file_paths: string[];
}

export interface ChangeSetList {
  room_id: string;
  change_sets: ChangeSetSummary[];
  next_before?: string;
}

export interface PolicyDecision {
  decision: "apply_all" | "review_required" | "reject_all" | string;
  risk_score: number;
  reasons: string[];
}

export interface ApplyResult {
  change_id: string;
  file_path: string;
  outcome: "applied" | "refused" | string;
  status: number;
  detail?: string;
}

export interface AuditEntry {
  id: string;
  room_id: string;
  user_id: string | null;
  action: string;
  source: string;
  change_set_id: string | null;
  change_id: string | null;
  file_path: string | null;
  detail: string | null;
  created_at: string;
}

export interface ConversationBot {
  name: string;
  provider: string;
  model: string;
  instructions: string;
}

export interface Conversation {
  conversation_id: string;
  room_id: string;
  created_by: string;
  topic: string;
  bots: ConversationBot[];
  max_turns: number;
  turns_done: number;
  status: "running" | "completed" | "stopped" | "failed" | string;
  error?: string;
  created_at: string;
  updated_at: string;
  ended_at?: string;
}

export interface NewConversation {
  topic: string;
  bots: { name: string; provider: string; model?: string; instructions: string }[];
  max_turns: number;
}
