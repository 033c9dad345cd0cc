using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>
/// Who is typing, per room: a Redis hash of user → expiry that every instance reads, so a client joining on any
/// instance mid-typing sees it. The hash itself expires with its last entry.
/// </summary>
public sealed class ChatTyping(IConnectionMultiplexer redis, TimeProvider timeProvider, IOptions<ChatOptions> options)
{
    private static string Key(Guid roomId) => $"chat:typing:{roomId:D}";

    public async Task<TypingUser> SetAsync(Guid roomId, ChatCaller caller, CancellationToken cancellationToken)
    {
        var ttl = options.Value.TypingTtl;
        var expiresAt = timeProvider.GetUtcNow() + ttl;
        var database = redis.GetDatabase();
        await database.HashSetAsync(Key(roomId), caller.UserId.ToString("D"), $"{expiresAt.ToUnixTimeMilliseconds()}|{caller.Login}").WaitAsync(cancellationToken);
        await database.KeyExpireAsync(Key(roomId), ttl).WaitAsync(cancellationToken);
        return new TypingUser(caller.UserId, caller.Login, expiresAt.UtcDateTime);
    }

    public async Task<IReadOnlyList<TypingUser>> GetAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var typing = new List<TypingUser>();
        var expired = new List<RedisValue>();
        var database = redis.GetDatabase();
        foreach (var entry in await database.HashGetAllAsync(Key(roomId)).WaitAsync(cancellationToken))
        {
            var field = entry.Name.ToString();
            var text = entry.Value.ToString();
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar > 0 && long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var expiresMs)
                && Guid.TryParse(field, out var userId) && expiresMs > now)
            {
                typing.Add(new TypingUser(userId, text[(bar + 1)..], DateTimeOffset.FromUnixTimeMilliseconds(expiresMs).UtcDateTime));
            }
            else
            {
                expired.Add(entry.Name);
            }
        }
        if (expired.Count > 0)
        {
            await database.HashDeleteAsync(Key(roomId), [.. expired]).WaitAsync(cancellationToken);
        }
        return typing;
    }
}
