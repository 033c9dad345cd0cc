using System.ComponentModel;
using System.Text.Json;
using Conductor.Api.Auth;
using Conductor.Api.Changes;
using Conductor.Api.Chat;
using Conductor.Api.Rooms;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Conductor.Workspaces.Search;
using Conductor.Workspaces.SourceControl;
using Microsoft.Extensions.Options;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Conductor.Api.Mcp;

/// <summary>
/// The tools a coding agent gets at <c>/mcp</c>, acting as the user whose Conductor token it presents. Every tool
/// about a room asks the same membership decision as the room routes (writes also refuse an ended room), and every
/// call, allowed or refused, is recorded in <c>mcp_calls</c>. Changes are proposed, never written: they enter the
/// change-set, policy and review flow (<see cref="ChangeProposals"/>).
/// </summary>
[McpServerToolType]
public sealed partial class ConductorMcpTools(IRoomMembership membership, RoomStore rooms, ChatService chat, WorkspaceFileService files,
    CodeSearch search, WorkspaceSourceControl sourceControl, ChangeProposals proposals, McpCallLog calls, IOptions<McpOptions> options,
    IOptions<WorkspaceOptions> workspaceOptions, ILogger<ConductorMcpTools> logger)
{
    [McpServerTool(Name = "list_rooms", ReadOnly = true), Description("Lists the Conductor rooms you are a member of, with your role in each.")]
    public Task<McpRooms> ListRoomsAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default) =>
        CallAsync(request, "list_rooms", null, write: false, async (userId, _, ct) =>
        {
            var mine = await rooms.ListForUserAsync(userId, ct);
            return new McpRooms(mine.Select(r => new McpRoom(r.Room.Id, r.Room.Name, r.Role == RoomRole.Host ? "host" : "guest", r.Room.EndedAt is not null)).ToList());
        }, cancellationToken);

    [McpServerTool(Name = "read_chat", ReadOnly = true), Description("Reads a room's recent chat messages, oldest first.")]
    public Task<McpChat> ReadChatAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id,
        [Description("How many of the latest messages (1-200, default 50).")] int? limit = null, CancellationToken cancellationToken = default) =>
        CallAsync(request, "read_chat", room_id, write: false, async (userId, roomId, ct) =>
        {
            var history = await chat.GetHistoryAsync(Caller(request, userId), roomId, new HistoryRequest(null, null, Math.Clamp(limit ?? 50, 1, 200)), ct);
            return new McpChat(roomId, history.Select(m => new McpChatMessage(m.Id, m.Login, m.Kind, m.Content, m.Timestamp)).ToList());
        }, cancellationToken);

    [McpServerTool(Name = "post_message"), Description("Posts a text message to a room's chat as you.")]
    public Task<McpPosted> PostMessageAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id,
        [Description("The message text.")] string text, CancellationToken cancellationToken = default) =>
        CallAsync(request, "post_message", room_id, write: true, async (userId, roomId, ct) =>
        {
            var (message, _) = await chat.SendAsync(Caller(request, userId), roomId,
                new SendMessageRequest(null, JsonSerializer.SerializeToElement(text), ChatKinds.Text, null), ct);
            return new McpPosted(roomId, message.Id, message.Seq);
        }, cancellationToken);

    [McpServerTool(Name = "list_files", ReadOnly = true), Description("Lists the files of a room's workspace (a folder, optionally recursively).")]
    public Task<McpFiles> ListFilesAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id,
        [Description("A folder relative to the workspace root; omit for the root.")] string? path = null,
        [Description("List sub-folders' files too.")] bool? recursive = null, CancellationToken cancellationToken = default) =>
        CallAsync(request, "list_files", room_id, write: false,
            async (_, roomId, ct) => new McpFiles(roomId, await files.ListAsync(roomId, path, recursive ?? false, ct)), cancellationToken);

    [McpServerTool(Name = "read_file", ReadOnly = true), Description("Reads a file of a room's workspace, with its etag.")]
    public Task<McpFile> ReadFileAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id,
        [Description("The file's path relative to the workspace root.")] string path, CancellationToken cancellationToken = default) =>
        CallAsync(request, "read_file", room_id, write: false, async (_, roomId, ct) =>
        {
            var file = await files.ReadAsync(roomId, path, ct);
            var max = options.Value.MaxFileChars;
            var truncated = file.Content.Length > max;
            return new McpFile(roomId, file.Path, file.Encoding, file.Size, file.Etag, truncated ? file.Content[..max] : file.Content, truncated);
        }, cancellationToken);

    [McpServerTool(Name = "search_files", ReadOnly = true), Description("Searches the text of a room's workspace files (like grep); returns file, line, column and the line.")]
    public Task<McpSearch> SearchFilesAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id,
        [Description("The text (or regular expression) to find.")] string query,
        [Description("Treat query as a regular expression.")] bool? regex = null,
        [Description("Match case.")] bool? case_sensitive = null,
        [Description("At most this many matches (default 50).")] int? max_results = null, CancellationToken cancellationToken = default) =>
        CallAsync(request, "search_files", room_id, write: false, async (_, roomId, ct) =>
        {
            var prepared = CodeSearch.Prepare(new SearchQuery(query ?? "")
            {
                Regex = regex ?? false,
                CaseSensitive = case_sensitive ?? false,
                MaxResults = Math.Clamp(max_results ?? 50, 1, options.Value.MaxSearchResults),
            }, workspaceOptions.Value.RegexTimeout);
            var worktree = await files.GetWorktreeAsync(roomId, ct);
            return new McpSearch(roomId, await search.SearchAsync(worktree, prepared, ct));
        }, cancellationToken);

    [McpServerTool(Name = "workspace_status", ReadOnly = true), Description("The workspace's branch, HEAD commit and changed files (like git status).")]
    public Task<WorkspaceStatusResponse> StatusAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id, CancellationToken cancellationToken = default) =>
        CallAsync(request, "workspace_status", room_id, write: false, (_, roomId, ct) => sourceControl.StatusAsync(roomId, ct), cancellationToken);

    [McpServerTool(Name = "workspace_diff", ReadOnly = true), Description("A unified diff of a workspace file against the session branch's HEAD.")]
    public Task<WorkspaceDiffResponse> DiffAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id,
        [Description("The file's path relative to the workspace root.")] string path, CancellationToken cancellationToken = default) =>
        CallAsync(request, "workspace_diff", room_id, write: false, (_, roomId, ct) => sourceControl.DiffAsync(roomId, path, ct), cancellationToken);

    [McpServerTool(Name = "propose_changes", Destructive = false),
     Description("Proposes changes to workspace files for the room to review. Nothing is written unless Conductor's policy rates the "
        + "changes safe to apply at once (apply_all); otherwise they wait as a pending change set for a member to review and apply.")]
    public Task<McpProposal> ProposeChangesAsync(RequestContext<CallToolRequestParams> request,
        [Description("The room's id (a UUID).")] string room_id,
        [Description("What the changes do and why (shown to reviewers).")] string description,
        [Description("The changes: file_path (relative), type (create, modify or delete), content (the whole new file; not for delete), rationale.")]
        IReadOnlyList<McpChangeInput> changes, CancellationToken cancellationToken = default) =>
        CallAsync(request, "propose_changes", room_id, write: true, async (userId, roomId, ct) =>
        {
            if (string.IsNullOrWhiteSpace(description) || description.Length > 4000)
            {
                throw new McpException("description is required, at most 4000 characters.");
            }
            var agent = request.Server.ClientInfo?.Name is { Length: > 0 } client ? $"mcp:{Shorten(client, 60)}" : "mcp";
            var proposed = (changes ?? []).Select(c => new ProposedChange(c.FilePath, c.Type, c.Content, c.Rationale ?? "")).ToList();
            var outcome = await proposals.ProposeAsync(roomId, userId, Caller(request, userId).Login, agent, ChangeSetSources.Mcp, request.Server.ClientInfo?.Version is { Length: > 0 } v ? Shorten(v, 60) : "client",
                description, proposed, ct);
            var applied = outcome.Applied.Count(a => a.Outcome == "applied");
            var status = outcome.Set is null ? "rejected"
                : outcome.Applied.Count == 0 ? "pending"
                : applied == outcome.Applied.Count ? "applied"
                : applied > 0 ? "partly_applied"
                : "refused";
            if (outcome.Set is { } set)
            {
                // The room hears of it where people look: the chat, with the set to review.
                await chat.PostServerMessageAsync(roomId, ChatKinds.System, Caller(request, userId).Login,
                    $"{Caller(request, userId).Login}'s coding agent proposed change set {set.Id:D} ({set.Changes.Count} change(s), {outcome.Decision.Decision}): {Shorten(description, 200)}",
                    userId, ct);
            }
            var appliedById = outcome.Applied.ToDictionary(a => a.ChangeId);
            return new McpProposal(outcome.Set?.Id, roomId, status, outcome.Decision.Decision, outcome.Decision.RiskScore, outcome.Decision.Reasons,
                outcome.Set?.Changes.Select(c => new McpProposedChange(c.Id, c.FilePath, c.Type, c.Diff,
                    appliedById.TryGetValue(c.Id, out var a) ? a.Outcome : c.Status)).ToList() ?? []);
        }, cancellationToken);

    /// <summary>
    /// Runs a tool for the calling user: the room check first (a malformed id, a non-member and a write to an ended
    /// room are refused alike with a message), then the work; the outcome is recorded either way. Refusals reach the
    /// agent as tool errors with a readable reason, never as exception text of an unexpected failure.
    /// </summary>
    private async Task<T> CallAsync<T>(RequestContext<CallToolRequestParams> request, string tool, string? roomIdText, bool write,
        Func<Guid, Guid, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        var userId = request.User?.GetUserId() ?? throw new McpException("Sign in: /mcp takes a Conductor access token.");
        Guid roomId = default;
        if (roomIdText is not null)
        {
            if (!Guid.TryParse(roomIdText, out roomId))
            {
                await calls.AppendAsync(userId, tool, null, McpOutcomes.Refused, "malformed room_id", cancellationToken);
                throw new McpException($"room_id '{ApiProblems.Truncate(roomIdText)}' is not a UUID.");
            }
            if (await membership.DecideAsync(roomId, userId, RoomRole.Guest, write, cancellationToken) is { } denial)
            {
                var reason = denial switch
                {
                    RoomAccessDenial.Ended => "The room's session has ended; it is read-only.",
                    _ => "You are not a member of this room.",
                };
                await calls.AppendAsync(userId, tool, roomId, McpOutcomes.Refused, denial.ToString(), cancellationToken);
                throw new McpException(reason);
            }
        }
        Guid? room = roomIdText is null ? null : roomId;
        try
        {
            var result = await body(userId, roomId, cancellationToken);
            await calls.AppendAsync(userId, tool, room, McpOutcomes.Ok, null, cancellationToken);
            return result;
        }
        catch (Exception ex) when (Refusal(ex) is { } reason)
        {
            await calls.AppendAsync(userId, tool, room, McpOutcomes.Refused, reason, CancellationToken.None);
            throw new McpException(reason);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(logger, tool, ex);
            await calls.AppendAsync(userId, tool, room, McpOutcomes.Failed, ex.GetType().Name, CancellationToken.None);
            throw new McpException($"{tool} failed on the server.");
        }
    }

    /// <summary>The caller's mistakes and the workspace's refusals, as a message for the agent; null for real failures.</summary>
    private static string? Refusal(Exception exception) => exception switch
    {
        McpException e => e.Message,
        WorkspaceException e => $"{e.Title}: {e.Message}",
        ChatException e => e.Message,
        ChangeProposalException e => $"The changes were not accepted: {string.Join("; ", e.Errors.Take(10))}",
        _ => null,
    };

    private static ChatCaller Caller(RequestContext<CallToolRequestParams> request, Guid userId) => new(userId, request.User!.GetLogin());

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "…";

    [LoggerMessage(Level = LogLevel.Error, Message = "MCP tool {Tool} failed")]
    private static partial void LogFailed(ILogger logger, string tool, Exception exception);
}
