namespace Conductor.Api.Rooms;

// Wire contracts of /rooms (snake_case on the wire through the global JSON policy).

public sealed record CreateRoomRequest(string? Name);

public sealed record CreatedRoomResponse(Guid RoomId, string Name, string Role, DateTimeOffset CreatedAt);

public sealed record RoomSummaryResponse(Guid RoomId, string Name, string Role, Guid HostUserId, DateTimeOffset CreatedAt, DateTimeOffset? EndedAt);

public sealed record RoomListResponse(IReadOnlyList<RoomSummaryResponse> Rooms);

/// <summary><see cref="Online"/> is null when presence is unknown (Redis unreachable), not false.</summary>
public sealed record RoomMemberResponse(Guid UserId, string Login, string Role, DateTimeOffset JoinedAt, bool? Online);

public sealed record RoomDetailResponse(Guid RoomId, string Name, string Role, Guid HostUserId, DateTimeOffset CreatedAt,
    DateTimeOffset? EndedAt, IReadOnlyList<RoomMemberResponse> Members);

/// <summary>Both optional: an invite lasts <see cref="InviteOptions.DefaultLifetime"/> and admits any number of people by default.</summary>
public sealed record CreateInviteRequest(int? ExpiresInSeconds, bool? SingleUse);

public sealed record InviteResponse(string Token, string Url, DateTimeOffset ExpiresAt, bool SingleUse);

public sealed record JoinRoomRequest(string? Token);

public sealed record JoinRoomResponse(Guid RoomId, string Role);

public sealed record TransferHostRequest(Guid? UserId);

public sealed record TransferHostResponse(Guid RoomId, Guid HostUserId);

public sealed record EndRoomResponse(Guid RoomId, DateTimeOffset EndedAt);
