using System.Text.Json;
using System.Text.Json.Serialization;
using Conductor.Workspaces.Files;

namespace Conductor.Api.Mcp;

public sealed record McpRoom(Guid RoomId, string Name, string Role, bool Ended);

public sealed record McpRooms(IReadOnlyList<McpRoom> Rooms);

public sealed record McpChatMessage(Guid Id, string Login, string Kind, JsonElement Content, DateTime Timestamp);

public sealed record McpChat(Guid RoomId, IReadOnlyList<McpChatMessage> Messages);

public sealed record McpPosted(Guid RoomId, Guid MessageId, long Seq);

public sealed record McpFiles(Guid RoomId, IReadOnlyList<FileEntry> Files);

public sealed record McpFile(Guid RoomId, string Path, string Encoding, long Size, string Etag, string Content, bool Truncated);

public sealed record McpSearch(Guid RoomId, IReadOnlyList<Conductor.Workspaces.Search.SearchMatch> Matches);

/// <summary>One change as an agent proposes it.</summary>
public sealed record McpChangeInput(
    [property: JsonPropertyName("file_path")] string FilePath,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("content")] string? Content,
    [property: JsonPropertyName("rationale")] string? Rationale);

public sealed record McpProposedChange(Guid Id, string FilePath, string Type, string Diff, string Status);

/// <summary>
/// What became of a proposal: <c>pending</c> (stored for review), <c>applied</c> (the policy said apply_all) or
/// <c>rejected</c> (the policy said reject_all; nothing stored).
/// </summary>
public sealed record McpProposal(Guid? ChangeSetId, Guid RoomId, string Status, string Decision, double RiskScore, IReadOnlyList<string> Reasons,
    IReadOnlyList<McpProposedChange> Changes);
