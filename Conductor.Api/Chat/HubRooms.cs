using System.Collections.Concurrent;

namespace Conductor.Api.Chat;

/// <summary>Which rooms each hub connection has joined on this instance.</summary>
public sealed class HubRooms
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Guid, ChatConnection>> _connections = new();

    public bool TryAdd(string hubConnectionId, Guid roomId, ChatConnection connection) =>
        _connections.GetOrAdd(hubConnectionId, _ => new()).TryAdd(roomId, connection);

    public bool TryRemove(string hubConnectionId, Guid roomId, out ChatConnection connection)
    {
        connection = null!;
        return _connections.TryGetValue(hubConnectionId, out var joined) && joined.TryRemove(roomId, out connection!);
    }

    public IReadOnlyList<ChatConnection> RemoveAll(string hubConnectionId) =>
        _connections.TryRemove(hubConnectionId, out var joined) ? [.. joined.Values] : [];
}
