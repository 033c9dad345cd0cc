// The Api's public contracts (snake_case JSON), as documented in docs/*.md and /openapi/v1.json.

export interface UserSummary {
  readonly id: string;
  readonly login: string;
}

export interface TokenResponse {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
  readonly token_type: string;
  readonly user: UserSummary;
}

export interface DeviceFlowStart {
  readonly device_code: string;
  readonly user_code: string;
  readonly verification_uri: string;
  readonly interval: number;
  readonly expires_in: number;
}

export type DevicePoll =
  | { readonly kind: 'pending'; readonly status: 'authorization_pending' | 'slow_down'; readonly interval: number }
  | { readonly kind: 'tokens'; readonly tokens: TokenResponse };

export interface Me {
  readonly id: string;
  readonly login: string;
  readonly github_id: number | null;
  readonly has_github_token: boolean;
  readonly created_at: string;
}

export type RoomRole = 'host' | 'guest';

export interface RoomCreated {
  readonly room_id: string;
  readonly name: string;
  readonly role: RoomRole;
  readonly created_at: string;
}

export interface RoomMember {
  readonly user_id: string;
  readonly login: string;
  readonly role: RoomRole;
  readonly joined_at: string;
  readonly online: boolean | null;
}

export interface RoomDetails {
  readonly room_id: string;
  readonly name: string;
  readonly role: RoomRole;
  readonly host_user_id: string;
  readonly created_at: string;
  readonly ended_at: string | null;
  readonly members: readonly RoomMember[];
}

export interface Invite {
  readonly token: string;
  readonly url: string;
  readonly expires_at: string;
  readonly single_use: boolean;
}

export interface JoinedRoom {
  readonly room_id: string;
  readonly role: RoomRole;
}

export type MessageKind = 'text' | 'code_snippet' | 'file' | 'system' | 'ai';

export interface CodeSnippet {
  readonly file: string;
  readonly language: string;
  readonly start_line: number;
  readonly end_line: number;
  readonly code: string;
}

export interface FileAttachment {
  readonly file_id: string;
  readonly name: string;
  readonly size?: number;
  readonly content_type?: string;
}

export interface ChatMessage {
  readonly type?: 'chat';
  readonly id: string;
  readonly room_id: string;
  readonly seq: number;
  readonly user_id: string | null;
  readonly login: string | null;
  readonly kind: MessageKind;
  readonly content: string | CodeSnippet | FileAttachment;
  readonly timestamp: string;
  readonly reply_to?: string;
}

export interface NewMessage {
  readonly id?: string;
  readonly content: string | CodeSnippet | FileAttachment;
  readonly kind?: 'text' | 'code_snippet' | 'file';
  readonly reply_to?: string;
}

export interface PresentUser {
  readonly user_id: string;
  readonly login: string;
}

export type WorkspaceStatus = 'creating' | 'ready' | 'failed' | 'deleting';

export interface Workspace {
  readonly room_id: string;
  readonly repo_url: string;
  readonly base_branch: string;
  readonly branch: string;
  readonly status: WorkspaceStatus;
  readonly error: string | null;
  readonly head_commit: string | null;
}

export interface WorkspaceAccepted {
  readonly room_id: string;
  readonly job_id: string;
  readonly status: string;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | string;

export interface JobStatus {
  readonly id: string;
  readonly room_id: string;
  readonly kind: string;
  readonly status: JobState;
  readonly attempts: number;
  readonly max_attempts: number;
  readonly error: string | null;
  readonly result: unknown;
}

export interface FileEntry {
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink' | string;
  readonly size: number;
  readonly mtime: string;
}

export interface FileContent {
  readonly path: string;
  readonly content: string;
  readonly encoding: 'utf-8' | 'base64';
  readonly size: number;
  readonly etag: string;
}

export interface FileWritten {
  readonly path: string;
  readonly size: number;
  readonly etag: string;
}

export interface SearchHit {
  readonly file_path: string;
  readonly line: number;
  readonly column: number;
  readonly content: string;
}

export interface SearchOptions {
  readonly maxResults?: number;
  readonly caseSensitive?: boolean;
  readonly regex?: boolean;
  readonly wholeWord?: boolean;
}

export type CommitOutcome =
  | { readonly committed: true; readonly commit: string; readonly pushed: boolean; readonly push_error: string | null }
  | { readonly committed: false; readonly reason: string };

export type ChangeType = 'create' | 'modify' | 'delete';

export interface ProposedChange {
  readonly id: string;
  readonly file_path: string;
  readonly type: ChangeType;
  readonly content: string | null;
  readonly diff: string;
  readonly rationale: string;
  readonly status: string;
}

export interface ChangeSet {
  readonly change_set_id: string;
  readonly room_id: string;
  readonly agent: string;
  readonly provider: string;
  readonly model: string;
  readonly context_files: readonly string[];
  readonly changes: readonly ProposedChange[];
}

export type PolicyDecision = 'apply_all' | 'review_required' | 'reject_all';

export interface PolicyEvaluation {
  readonly decision: PolicyDecision;
  readonly risk_score: number;
  readonly reasons: readonly string[];
}

export interface ApplyResult {
  readonly change_id: string;
  readonly file_path: string;
  readonly outcome: string;
  readonly status: number;
  readonly detail?: string;
}

export interface UploadedFile {
  readonly file_id: string;
  readonly deduplicated: boolean;
  readonly filename: string;
  readonly size: number;
  readonly content_type: string;
  readonly sha256: string;
}

export interface ProviderStatus {
  readonly name: string;
  readonly kind: string;
  readonly model: string;
  readonly available: boolean;
  readonly latency_ms: number | null;
  readonly error?: string | null;
}

export interface AiStatus {
  readonly providers: readonly ProviderStatus[];
  readonly active_provider: string;
}

/** A sync that landed (POST /workspace/{room}/sync); a conflicting one is a 409 problem with code `sync_conflicts`. */
export interface SyncOutcome {
  readonly room_id: string;
  readonly login: string;
  readonly status: 'up_to_date' | 'fast_forward' | 'merged' | string;
  readonly branch: string;
  readonly member_branch: string;
  readonly committed: string | null;
  readonly base_commit: string;
  readonly head_commit: string;
}

export interface PublishOutcome {
  readonly sync: SyncOutcome;
  readonly pushed: boolean;
  readonly push_error: string | null;
}

export interface ConversationBot {
  readonly name: string;
  readonly provider: string;
  readonly model: string;
  readonly instructions: string;
}

export interface Conversation {
  readonly conversation_id: string;
  readonly room_id: string;
  readonly topic: string;
  readonly bots: readonly ConversationBot[];
  readonly max_turns: number;
  readonly turns_done: number;
  readonly status: string;
  readonly error?: string;
  readonly created_at: string;
}

export interface NewConversation {
  readonly topic: string;
  readonly bots: readonly { readonly name: string; readonly provider: string; readonly model?: string; readonly instructions: string }[];
  readonly max_turns: number;
}

/** Where a WebSocket connects and the headers it sends (the access token goes in a header, never in the URL). */
export interface SocketTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}
