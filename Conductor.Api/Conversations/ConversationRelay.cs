using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Conversations;

/// <summary>
/// Carries a running conversation's live events to the other Api instances, so a stream opened on any instance shows
/// tokens as they are generated, not only turns once stored. The runner publishes each event on
/// <c>conversation:{id}:live</c> and keeps the turn in progress (its turn_start and text so far) in Redis in the same
/// script, so a stream subscribing mid-turn starts from that snapshot and then follows, with no gap (the stream drops
/// what it already has by offset). Postgres stays the truth: a stream reads stored turns from it first, and a lost
/// relay (Redis down, the runner killed) costs only liveness: the stream's idle check goes back to Postgres.
/// </summary>
public sealed partial class ConversationRelay(IConnectionMultiplexer redis, IOptions<ConversationOptions> options, ILogger<ConversationRelay> logger)
{
    /// <summary>The relay's own end-of-run marker (never sent to clients): the runner closed, read Postgres for the outcome.</summary>
    private const string Closed = "closed";
    private static readonly TimeSpan SnapshotLifetime = TimeSpan.FromHours(1);

    private static string Channel(Guid id) => $"conversation:{id:D}:live";

    /// <summary>
    /// Relays an event, fire and forget: commands on one multiplexer keep their order, and the runner must not wait on
    /// Redis between tokens.
    /// </summary>
    public void Publish(Guid id, ConversationEvent e) => Send(id, e.Type, JsonSerializer.Serialize(e), e.Type == ConversationEventTypes.Token ? e.Text ?? "" : "");

    /// <summary>The run ended on this instance: streams elsewhere go back to Postgres for the outcome.</summary>
    public void Close(Guid id) => Send(id, Closed, JsonSerializer.Serialize(new ConversationEvent(Closed, -1, -1, "")), "");

    private void Send(Guid id, string type, string json, string piece)
    {
        try
        {
            // One transaction: the snapshot a late subscriber reads and the events it receives after subscribing
            // never disagree (and the stream drops by offset whatever it gets twice).
            var transaction = redis.GetDatabase().CreateTransaction();
            var (start, text) = SnapshotKeys(id);
            if (type == ConversationEventTypes.TurnStart)
            {
                _ = transaction.StringSetAsync(start, json, SnapshotLifetime);
                _ = transaction.StringSetAsync(text, "", SnapshotLifetime);
            }
            else if (type == ConversationEventTypes.Token)
            {
                _ = transaction.StringAppendAsync(text, piece);
            }
            else
            {
                _ = transaction.KeyDeleteAsync([start, text]);
            }
            _ = transaction.PublishAsync(RedisChannel.Literal(Channel(id)), json);
            _ = transaction.ExecuteAsync(CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRelayFailed(logger, ex, id);
        }
    }

    private static (RedisKey Start, RedisKey Text) SnapshotKeys(Guid id) => ($"conversation:{id:D}:live-start", $"conversation:{id:D}:live-text");

    /// <summary>
    /// Follows a conversation run by another instance: subscribed first, then the snapshot of the turn in progress. The
    /// events end when the run closes, or after <paramref name="idle"/> of silence (at most a lease: the runner may be
    /// gone; the caller keeps its connection alive, reads Postgres and subscribes again).
    /// </summary>
    public async Task<RelaySubscription> SubscribeAsync(Guid id, TimeSpan idle, CancellationToken cancellationToken)
    {
        var subscriber = redis.GetSubscriber();
        var queue = await subscriber.SubscribeAsync(RedisChannel.Literal(Channel(id))).WaitAsync(cancellationToken);
        var database = redis.GetDatabase();
        var (startKey, textKey) = SnapshotKeys(id);
        var snapshot = await database.StringGetAsync([startKey, textKey]).WaitAsync(cancellationToken);
        var start = snapshot[0].HasValue ? JsonSerializer.Deserialize<ConversationEvent>((string)snapshot[0]!) : null;
        var events = System.Threading.Channels.Channel.CreateUnbounded<ConversationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = PumpAsync(queue, events.Writer, idle < options.Value.LeaseDuration ? idle : options.Value.LeaseDuration, stop.Token);
        return new RelaySubscription(new LiveSubscription(events.Reader, start, start is null ? "" : (string?)snapshot[1] ?? ""), queue, stop, pump);
    }

    private static async Task PumpAsync(ChannelMessageQueue queue, ChannelWriter<ConversationEvent> writer, TimeSpan idle, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                quiet.CancelAfter(idle);
                var message = await queue.ReadAsync(quiet.Token);
                var e = JsonSerializer.Deserialize<ConversationEvent>((string)message.Message!);
                if (e is null || e.Type == Closed)
                {
                    return;
                }
                writer.TryWrite(e);
            }
        }
        catch (OperationCanceledException)
        {
            // Silence or the stream ended: either way the caller goes back to Postgres.
        }
        catch (ChannelClosedException)
        {
            // Unsubscribed.
        }
        finally
        {
            writer.TryComplete();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not relay conversation {ConversationId}'s live events; other instances' streams see stored turns only")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception, Guid conversationId);
}
