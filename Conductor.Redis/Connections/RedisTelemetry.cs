using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Conductor.Redis.Connections;

/// <summary>The <c>Conductor.Redis</c> meter and activity source (collected by the service defaults' <c>Conductor.*</c>).</summary>
internal static class RedisTelemetry
{
    public const string Name = "Conductor.Redis";

    public static readonly ActivitySource ActivitySource = new(Name);
    private static readonly Meter Meter = new(Name);

    public static readonly Counter<long> CommandsSent = Meter.CreateCounter<long>("conductor.redis.commands.sent", "{command}", "Commands written to Redis.");
    public static readonly Counter<long> CommandTimeouts = Meter.CreateCounter<long>("conductor.redis.commands.timeouts", "{command}", "Commands that got no reply in time.");
    public static readonly Counter<long> ConnectionFailures = Meter.CreateCounter<long>("conductor.redis.connection.failures", "{failure}", "Connections lost or attempts that failed.");
    public static readonly Counter<long> Reconnects = Meter.CreateCounter<long>("conductor.redis.connection.reconnects", "{reconnect}", "Connections re-established after a loss.");
    public static readonly Counter<long> MessagesDropped = Meter.CreateCounter<long>("conductor.redis.pubsub.dropped", "{message}", "Pub/sub messages dropped because a handler fell behind.");
}
