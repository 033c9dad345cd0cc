namespace Conductor.Api.Mcp;

/// <summary>One recorded MCP tool call.</summary>
public sealed record McpCall(Guid UserId, string Tool, Guid? RoomId, string Outcome, string? Detail, DateTimeOffset CreatedAt);
