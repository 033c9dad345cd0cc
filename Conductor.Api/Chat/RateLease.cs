namespace Conductor.Api.Chat;

/// <summary>
/// One user's message tokens that this instance took from the user's Redis bucket ahead of need
/// (<see cref="ChatRateLimiter"/>). Guarded by locking the instance itself.
/// </summary>
internal sealed class RateLease
{
    /// <summary>Tokens taken from Redis and not spent yet.</summary>
    public int Available { get; set; }

    /// <summary>When the oldest of <see cref="Available"/> was taken (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long TakenAt { get; set; }

    public long LastUsed { get; set; }

    /// <summary>The request to Redis for more tokens, while it is in flight.</summary>
    public Task<Refill>? Pending { get; set; }

    /// <summary>What Redis gave (0: the bucket is empty), or why it could not be asked.</summary>
    public readonly record struct Refill(long Taken, Exception? Failure);
}
