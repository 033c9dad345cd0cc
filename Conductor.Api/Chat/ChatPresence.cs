using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>
/// Who is online in a room, right across instances: one Redis hash entry per connection (user|connection →
/// expiry|login), refreshed by its instance while the connection lives. A crashed instance's entries run out after
/// <see cref="ChatOptions.PresenceLifetime"/>.
/// </summary>
public sealed class ChatPresence(IConnectionMultiplexer redis, TimeProvider timeProvider, IOptions<ChatOptions> options)
{
    // Adds or removes one connection and answers how many live connections the user still has in the room, so the
    // caller knows whether this was the user's first (user_joined) or last (user_left). Expired entries are pruned.
    private static readonly LuaScript Update = LuaScript.Prepare("""
        if @operation == 'add' then
            redis.call('HSET', @key, @field, @value)
            redis.call('PEXPIRE', @key, @lifetimeMs)
        else
            redis.call('HDEL', @key, @field)
        end
        local now = tonumber(@nowMs)
        local prefix = @prefix
        local entries = redis.call('HGETALL', @key)
        local live = 0
        for i = 1, #entries, 2 do
            local expires = tonumber(string.match(entries[i + 1], '^(%d+)'))
            if expires == nil or expires <= now then
                redis.call('HDEL', @key, entries[i])
            elseif string.sub(entries[i], 1, #prefix) == prefix then
                live = live + 1
            end
        end
        return live
        """);

    private static string Key(Guid roomId) => $"chat:presence:{roomId:D}";

    private static string Field(Guid userId, string connectionId) => $"{userId:D}|{connectionId}";

    /// <summary>Registers (or refreshes) a connection; returns the user's live connection count in the room.</summary>
    public Task<long> AddAsync(Guid roomId, Guid userId, string login, string connectionId, CancellationToken cancellationToken) =>
        RunAsync("add", roomId, userId, login, connectionId, cancellationToken);

    /// <summary>Removes a connection; returns the user's remaining live connection count in the room.</summary>
    public Task<long> RemoveAsync(Guid roomId, Guid userId, string connectionId, CancellationToken cancellationToken) =>
        RunAsync("remove", roomId, userId, "", connectionId, cancellationToken);

    /// <summary>
    /// Keeps this instance's connections in the room alive (the periodic refresh): one HSET for them all instead of
    /// the script per connection; expired entries are pruned by the next add or remove.
    /// </summary>
    public async Task RefreshAsync(Guid roomId, IReadOnlyCollection<ChatConnection> connections, CancellationToken cancellationToken)
    {
        if (connections.Count == 0)
        {
            return;
        }
        var lifetime = options.Value.PresenceLifetime;
        var expires = (timeProvider.GetUtcNow() + lifetime).ToUnixTimeMilliseconds();
        var database = redis.GetDatabase();
        await Task.WhenAll(
            database.HashSetAsync(Key(roomId), [.. connections.Select(c =>
                new HashEntry(Field(c.Caller.UserId, c.ConnectionId), $"{expires.ToString(CultureInfo.InvariantCulture)}|{c.Caller.Login}"))]),
            database.KeyExpireAsync(Key(roomId), lifetime)).WaitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<OnlineUser>> GetOnlineAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var online = new Dictionary<Guid, string>();
        foreach (var entry in await redis.GetDatabase().HashGetAllAsync(Key(roomId)).WaitAsync(cancellationToken))
        {
            var field = entry.Name.ToString();
            var text = entry.Value.ToString();
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar > 0 && long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var expiresMs) && expiresMs > now
                && field.Length > 36 && Guid.TryParseExact(field.AsSpan(0, 36), "D", out var userId))
            {
                online[userId] = text[(bar + 1)..];
            }
        }
        return online.Select(pair => new OnlineUser(pair.Key, pair.Value)).OrderBy(u => u.Login, StringComparer.Ordinal).ToList();
    }

    private async Task<long> RunAsync(string operation, Guid roomId, Guid userId, string login, string connectionId, CancellationToken cancellationToken)
    {
        var lifetime = options.Value.PresenceLifetime;
        var now = timeProvider.GetUtcNow();
        var result = await Update.EvaluateAsync(redis.GetDatabase(), new
        {
            key = (RedisKey)Key(roomId),
            operation,
            field = Field(userId, connectionId),
            value = $"{(now + lifetime).ToUnixTimeMilliseconds()}|{login}",
            prefix = $"{userId:D}|",
            lifetimeMs = (long)lifetime.TotalMilliseconds,
            nowMs = now.ToUnixTimeMilliseconds(),
        }).WaitAsync(cancellationToken);
        return (long)result;
    }
}
