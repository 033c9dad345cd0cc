using System.ComponentModel.DataAnnotations;

namespace Conductor.Api.Chat;

/// <summary>Chat limits, bound from the <c>Chat</c> configuration section and validated at start-up.</summary>
public sealed class ChatOptions : IValidatableObject
{
    public const string SectionName = "Chat";

    /// <summary>Largest message content, in UTF-8 bytes (for objects: of their JSON).</summary>
    [Range(1, 1024 * 1024)]
    public int MaxContentBytes { get; set; } = 16 * 1024;

    /// <summary>
    /// Largest WebSocket message (or SignalR message) read from a client. Bigger than the content limit because JSON
    /// escaping can multiply the content's size; anything past it is discarded unread.
    /// </summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 128 * 1024;

    [Range(1, 1000)]
    public int DefaultHistoryLimit { get; set; } = 50;

    [Range(1, 10_000)]
    public int MaxHistoryLimit { get; set; } = 200;

    /// <summary>Messages a user may send in a burst (token bucket shared by all Api instances, in Redis).</summary>
    [Range(1, 1_000_000)]
    public int MessageBurst { get; set; } = 20;

    /// <summary>Messages per second a user's bucket refills.</summary>
    [Range(0.01, 1_000_000)]
    public double MessagesPerSecond { get; set; } = 5;

    /// <summary>
    /// How long message tokens an instance took from a user's Redis bucket ahead of need stay usable
    /// (<see cref="ChatRateLimiter"/>): bounds how far a burst may exceed <see cref="MessageBurst"/>.
    /// </summary>
    public TimeSpan RateLeaseLifetime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>History reads (HTTP, hub, socket) a user may make in a burst, and the refill per second.</summary>
    [Range(1, 1_000_000)]
    public int HistoryBurst { get; set; } = 30;

    [Range(0.01, 1_000_000)]
    public double HistoryPerSecond { get; set; } = 3;

    /// <summary>How long a typing signal lasts without another.</summary>
    public TimeSpan TypingTtl { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How long an instance waits for a missing sequence number before reading it from Postgres.</summary>
    public TimeSpan GapWait { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>A connection's presence entry lives this long unless its instance refreshes it (a crashed instance's users drop out).</summary>
    public TimeSpan PresenceLifetime { get; set; } = TimeSpan.FromSeconds(45);

    public TimeSpan PresenceRefresh { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Frames queued for one connection; a client that falls this far behind is disconnected.</summary>
    [Range(16, 1_000_000)]
    public int OutboundQueueLimit { get; set; } = 2048;

    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxFrameBytes < MaxContentBytes)
        {
            yield return new ValidationResult("Chat:MaxFrameBytes must be at least Chat:MaxContentBytes.", [nameof(MaxFrameBytes)]);
        }
        if (DefaultHistoryLimit > MaxHistoryLimit)
        {
            yield return new ValidationResult("Chat:DefaultHistoryLimit must not exceed Chat:MaxHistoryLimit.", [nameof(DefaultHistoryLimit)]);
        }
        foreach (var (name, value) in new[] { (nameof(TypingTtl), TypingTtl), (nameof(RateLeaseLifetime), RateLeaseLifetime), (nameof(GapWait), GapWait), (nameof(PresenceLifetime), PresenceLifetime),
                     (nameof(PresenceRefresh), PresenceRefresh), (nameof(KeepAliveInterval), KeepAliveInterval) })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return new ValidationResult($"Chat:{name} must be positive.", [name]);
            }
        }
        if (PresenceRefresh >= PresenceLifetime)
        {
            yield return new ValidationResult("Chat:PresenceRefresh must be shorter than Chat:PresenceLifetime.", [nameof(PresenceRefresh)]);
        }
    }
}
