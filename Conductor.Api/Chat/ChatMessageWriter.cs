using System.Data;
using System.Threading.Channels;
using Npgsql;
using StackExchange.Redis;

namespace Conductor.Api.Chat;

/// <summary>
/// Group commit for chat: every send on this instance, whatever its room, joins a queue; one loop takes whatever has
/// queued up (up to <see cref="MaxBatch"/>) and stores it in one statement (<see cref="ChatStore.InsertBatchAsync"/>,
/// one round trip and one commit however many messages), then hands each stored message to this instance's room feed,
/// issues its publish for the other instances (pipelined on the one Redis connection, serialised once) and answers
/// the senders at once, without waiting for Redis to acknowledge. Under load a batch grows while the previous one
/// commits, so the cost per message falls as the rate rises; alone, a message pays one round trip. Stored before
/// delivered still holds: nothing is handed on or published before its statement committed.
/// </summary>
public sealed partial class ChatMessageWriter(ChatStore store, IConnectionMultiplexer redis, ChatFanout fanout, ILogger<ChatMessageWriter> logger)
    : BackgroundService
{
    /// <summary>The most messages in one transaction: bounds the time a room's sequence row stays locked.</summary>
    public const int MaxBatch = 256;

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>The loop's own connection, kept open from batch to batch (see <see cref="ChatStore.InsertBatchAsync(NpgsqlConnection, IReadOnlyList{NewChatMessage}, CancellationToken)"/>).</summary>
    private NpgsqlConnection? _connection;

    /// <summary>Stores and publishes the message; a known id answers with the stored message (<c>Created=false</c>), published again.</summary>
    public async Task<(ChatMessage Message, bool Created)> WriteAsync(NewChatMessage message, CancellationToken cancellationToken)
    {
        var pending = new Pending(message);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ChatException(ChatErrors.Unavailable, "The server is shutting down; send again.", StatusCodes.Status503ServiceUnavailable);
        }
        // A cancelled sender stops waiting; the message may still be stored (a resend with the same id is safe).
        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        while (_queue.Reader.TryRead(out var pending))
        {
            pending.Completion.TrySetException(new ChatException(ChatErrors.Unavailable, "The server is shutting down; send again.",
                StatusCodes.Status503ServiceUnavailable));
        }
        await DropConnectionAsync();
    }

    private async Task DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatch);
        while (await ReadBatchAsync(batch, stoppingToken))
        {
            try
            {
                await WriteBatchAsync([.. batch], stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                Fail(batch, new ChatException(ChatErrors.Unavailable, "The server is shutting down; send again.", StatusCodes.Status503ServiceUnavailable));
                return;
            }
            catch (Exception exception)
            {
                // Whatever went wrong, those senders hear of it (they resend by id) and the loop goes on for the others,
                // on a new connection.
                LogBatchCrashed(logger, exception, batch.Count);
                await DropConnectionAsync();
                Fail(batch, exception);
            }
            batch.Clear();
        }
    }

    private async Task<bool> ReadBatchAsync(List<Pending> batch, CancellationToken stoppingToken)
    {
        try
        {
            if (!await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                return false;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
        while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
        {
            batch.Add(pending);
        }
        return true;
    }

    private static void Fail(IEnumerable<Pending> batch, Exception exception)
    {
        foreach (var pending in batch)
        {
            pending.Completion.TrySetException(ForSender(exception));
        }
    }

    private async Task WriteBatchAsync(Pending[] batch, CancellationToken cancellationToken)
    {
        var outcomes = new Outcome[batch.Length];
        try
        {
            _connection ??= await store.OpenConnectionAsync(cancellationToken);
            var stored = await store.InsertBatchAsync(_connection, [.. batch.Select(p => p.Message)], cancellationToken);
            for (var i = 0; i < batch.Length; i++)
            {
                outcomes[i] = new Outcome(stored[i], null);
            }
        }
        catch (PostgresException exception)
        {
            // Nothing of the batch was stored. Either a first send of one of its ids committed elsewhere meanwhile, or
            // one bad message (say, its room was deleted) failed the statement: store them one at a time, so a known
            // id answers with the stored message and only a bad message fails.
            if (exception is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "messages_pkey" })
            {
                LogBatchRetried(logger, batch.Length);
            }
            else
            {
                LogBatchFailed(logger, exception, batch.Length);
            }
            if (_connection is { FullState: not ConnectionState.Open })
            {
                // The server ended the session (a Postgres restart answers with a PostgresException too).
                await DropConnectionAsync();
            }
            await WriteOneByOneAsync(batch, outcomes, cancellationToken);
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // The connection may be broken (a Postgres restart): the next batch opens another.
            await DropConnectionAsync();
            Fail(batch, exception);
            return;
        }

        // One publish per room for the whole batch (its frames in seq order, as one JSON text sequence when there are
        // several: OutboundFrame.Split), issued back to back without waiting in between: StackExchange.Redis pipelines
        // them on its one connection, so the other instances get one message (and one wake-up) per room per batch.
        var rooms = new Dictionary<Guid, List<OutboundFrame>>();
        for (var i = 0; i < batch.Length; i++)
        {
            if (outcomes[i].Stored is var (message, _) && IsSendersOwn(message, batch[i].Message))
            {
                // A resend is published again too: if an instance died between storing and publishing the first time,
                // the others learn of it now (they drop seqs they already delivered).
                // Serialised once: the same bytes go to this instance's clients and, through Redis, to the others'.
                var frame = OutboundFrame.Create(message);
                fanout.PostStored(frame, message.RoomId);
                if (!rooms.TryGetValue(message.RoomId, out var frames))
                {
                    rooms[message.RoomId] = frames = [];
                }
                frames.Add(frame);
            }
        }
        var publishes = new List<(Task Publish, Guid RoomId)>(rooms.Count);
        foreach (var (roomId, frames) in rooms)
        {
            publishes.Add((redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChatChannels.Chat(roomId)), OutboundFrame.Join(frames)), roomId));
        }
        // Stored is what a sender waits for: it is answered now, not once Redis has acknowledged the publishes (the
        // order is fixed once they are issued, and a lost publish loses nothing: the next message of the room, or a
        // reconnect, makes every instance fill the gap from Postgres). The next batch need not wait for them either.
        for (var i = 0; i < batch.Length; i++)
        {
            if (outcomes[i].Error is { } error)
            {
                batch[i].Completion.TrySetException(ForSender(error));
            }
            else
            {
                batch[i].Completion.TrySetResult(outcomes[i].Stored!.Value);
            }
        }
        if (publishes.Count > 0)
        {
            _ = ObservePublishesAsync(publishes);
        }
    }

    private async Task ObservePublishesAsync(List<(Task Publish, Guid RoomId)> publishes)
    {
        foreach (var (publish, roomId) in publishes)
        {
            try
            {
                await publish;
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                // Redis is the fan-out, not the record: the message is stored and the sender answered; the next one in
                // its room (or the reconnect's catch-up) makes every instance fill the gap.
                LogPublishFailed(logger, exception, roomId);
            }
        }
    }

    private async Task WriteOneByOneAsync(Pending[] batch, Outcome[] outcomes, CancellationToken cancellationToken)
    {
        for (var i = 0; i < batch.Length; i++)
        {
            try
            {
                outcomes[i] = new Outcome(await store.InsertAsync(batch[i].Message, cancellationToken), null);
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                outcomes[i] = new Outcome(null, exception);
            }
        }
    }

    /// <summary>
    /// What a sender hears when its message could not be stored: <c>unavailable</c> (503) on every transport, whatever
    /// Postgres said (a socket, the hub and the HTTP route all know how to answer a <see cref="ChatException"/>); the
    /// client resends with the same id.
    /// </summary>
    private static Exception ForSender(Exception exception) => exception as ChatException
        ?? new ChatException(ChatErrors.Unavailable, "The message could not be stored just now; send it again with the same id.",
            StatusCodes.Status503ServiceUnavailable);

    // Ids are global: an id that is someone else's message (or in another room) is refused by the service, not republished.
    private static bool IsSendersOwn(ChatMessage stored, NewChatMessage sent) => stored.RoomId == sent.RoomId && stored.UserId == sent.UserId;

    private sealed class Pending(NewChatMessage message)
    {
        public NewChatMessage Message { get; } = message;
        public TaskCompletionSource<(ChatMessage Message, bool Created)> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly record struct Outcome((ChatMessage Message, bool Created)? Stored, Exception? Error);

    [LoggerMessage(Level = LogLevel.Information, Message = "A batch of {Count} messages met a concurrent first send of one of its ids; storing them one at a time")]
    private static partial void LogBatchRetried(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of {Count} messages could not be stored")]
    private static partial void LogBatchCrashed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} messages failed; storing them one at a time")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing a message of room {RoomId} failed; it reaches other instances when the next one arrives")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, Guid roomId);
}
