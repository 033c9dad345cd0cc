using System.Threading.RateLimiting;
using Conductor.Api.Chat;

namespace Conductor.Api.Mcp;

/// <summary>
/// One user's MCP budget, kept in Redis through the chat's token buckets (<see cref="ChatRateLimiter"/>), so the limit
/// holds for the user's agents together however many Api instances their requests reach. ASP.NET Core's limiters
/// count in the instance's memory, and no served package offers a distributed one; this adapts the Redis bucket to
/// the rate-limiting middleware. The middleware tries <see cref="AttemptAcquireCore"/> first and then waits on
/// <see cref="AcquireAsyncCore"/>: the synchronous attempt cannot ask Redis, so it always defers to the asynchronous one.
/// </summary>
internal sealed class McpUserRateLimiter(ChatRateLimiter buckets, Guid userId, int permitLimit, TimeSpan window) : RateLimiter
{
    private readonly double _perSecond = permitLimit / window.TotalSeconds;
    private long _lastUsed = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>The state is in Redis: the middleware may drop this object once unused for a while, and make a new one.</summary>
    public override TimeSpan? IdleDuration => System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastUsed));

    public override RateLimiterStatistics? GetStatistics() => null;

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => Lease.Deferred;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _lastUsed, System.Diagnostics.Stopwatch.GetTimestamp());
        return await buckets.TryTakeAsync("mcp", permitLimit, _perSecond, userId, cancellationToken)
            ? Lease.Granted
            : new Lease(false, TimeSpan.FromSeconds(Math.Ceiling(1 / _perSecond)));
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Granted = new(true, null);
        public static readonly Lease Deferred = new(false, null);

        public override bool IsAcquired { get; } = acquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = metadataName == MetadataName.RetryAfter.Name ? retryAfter : null;
            return metadata is not null;
        }
    }
}
