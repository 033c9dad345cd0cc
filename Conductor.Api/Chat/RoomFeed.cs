using System.Text.Json;
using System.Threading.Channels;

namespace Conductor.Api.Chat;

/// <summary>One room's local delivery: a single loop, so frames reach each connection in one order.</summary>
internal sealed partial class RoomFeed
{
    private readonly Guid _roomId;
    private readonly ChatStore _store;
    private readonly ChatOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<ChatConnection> _connections = [];
    private readonly Channel<OutboundFrame> _incoming = Channel.CreateUnbounded<OutboundFrame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A frame no one else can post (compared by reference): the loop's cue to catch up from Postgres.</summary>
    private static readonly OutboundFrame CatchUpSignal = OutboundFrame.TryParse("{\"type\":\"catch_up\"}"u8.ToArray())!;

    /// <summary>At most this many messages are replayed after a reconnect; clients page further back through history.</summary>
    private const int MaxCatchUp = 500;

    public RoomFeed(Guid roomId, ChatStore store, ChatOptions options, TimeProvider time, ILogger logger)
    {
        _roomId = roomId;
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _ = Task.Run(RunAsync);
    }

    public Task Ready => _ready.Task;

    public bool IsEmpty => _connections.Count == 0;

    public void Add(ChatConnection connection)
    {
        lock (_connections)
        {
            _connections.Add(connection);
        }
    }

    public bool Remove(ChatConnection connection)
    {
        lock (_connections)
        {
            return _connections.Remove(connection);
        }
    }

    public IReadOnlyList<ChatConnection> Snapshot()
    {
        lock (_connections)
        {
            return [.. _connections];
        }
    }

    public void Post(OutboundFrame frame) => _incoming.Writer.TryWrite(frame);

    /// <summary>
    /// Asks the feed's loop to deliver whatever Postgres holds beyond what it delivered: now, and once more a
    /// second later for a message stored while the resubscription was still on its way.
    /// </summary>
    public void CatchUp()
    {
        _incoming.Writer.TryWrite(CatchUpSignal);
        _ = Task.Delay(TimeSpan.FromSeconds(1), _time, _stop.Token)
            .ContinueWith(_ => _incoming.Writer.TryWrite(CatchUpSignal), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    public void Stop()
    {
        _incoming.Writer.TryComplete();
        _stop.Cancel();
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        long next;
        try
        {
            next = await _store.GetLastSeqAsync(_roomId, stop) + 1;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Without the database's position, start from the first message Redis brings.
            LogSequenceUnknown(_logger, exception, _roomId);
            next = 0;
        }
        _ready.TrySetResult();
        var pending = new SortedDictionary<long, OutboundFrame>();
        try
        {
            while (true)
            {
                OutboundFrame frame;
                if (pending.Count == 0)
                {
                    frame = await _incoming.Reader.ReadAsync(stop);
                }
                else
                {
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    wait.CancelAfter(_options.GapWait);
                    try
                    {
                        frame = await _incoming.Reader.ReadAsync(wait.Token);
                    }
                    catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                    {
                        next = await FillGapAsync(next, pending, stop);
                        continue;
                    }
                }

                if (ReferenceEquals(frame, CatchUpSignal))
                {
                    next = await CatchUpAsync(next, pending, stop);
                    continue;
                }
                if (frame.Seq is { } seq)
                {
                    if (next == 0)
                    {
                        next = seq;
                    }
                    if (seq < next)
                    {
                        continue; // already delivered (a resend, or a gap filled from Postgres)
                    }
                    pending.TryAdd(seq, frame);
                    next = DeliverInOrder(next, pending);
                }
                else
                {
                    Deliver(frame);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (ChannelClosedException)
        {
        }
    }

    private async Task<long> CatchUpAsync(long next, SortedDictionary<long, OutboundFrame> pending, CancellationToken stop)
    {
        try
        {
            var last = await _store.GetLastSeqAsync(_roomId, stop);
            if (next == 0)
            {
                return last + 1; // nothing delivered yet: start from what comes next
            }
            if (last >= next)
            {
                var from = Math.Max(next, last - MaxCatchUp + 1);
                foreach (var message in await _store.GetRangeAsync(_roomId, from, last, stop))
                {
                    pending.TryAdd(message.Seq, OutboundFrame.Create(message));
                }
                LogCaughtUp(_logger, _roomId, from, last);
                next = from;
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The next message's gap fill (or the client's history request) still brings what was missed.
            LogCatchUpFailed(_logger, exception, _roomId, next);
        }
        return DeliverInOrder(next, pending);
    }

    private long DeliverInOrder(long next, SortedDictionary<long, OutboundFrame> pending)
    {
        while (pending.Remove(next, out var frame))
        {
            Deliver(frame);
            next++;
        }
        return next;
    }

    private async Task<long> FillGapAsync(long next, SortedDictionary<long, OutboundFrame> pending, CancellationToken stop)
    {
        var upTo = pending.Keys.First() - 1;
        try
        {
            foreach (var message in await _store.GetRangeAsync(_roomId, next, upTo, stop))
            {
                pending.TryAdd(message.Seq, OutboundFrame.Create(message));
            }
            LogGapFilled(_logger, _roomId, next, upTo);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogGapFillFailed(_logger, exception, _roomId, next, upTo);
        }
        next = DeliverInOrder(next, pending);
        if (pending.Count > 0 && pending.Keys.First() > next)
        {
            // Postgres could not supply the gap: move on rather than hold the room forever (clients can still
            // read it through history).
            next = DeliverInOrder(pending.Keys.First(), pending);
        }
        return next;
    }

    private void Deliver(OutboundFrame frame)
    {
        var connections = Snapshot();
        Guid? removedUser = null;
        if (frame.Type == "member_removed" && frame.Element.TryGetProperty("user_id", out var userElement)
            && userElement.ValueKind == JsonValueKind.String && Guid.TryParse(userElement.GetString(), out var userId))
        {
            removedUser = userId;
        }
        foreach (var connection in connections)
        {
            connection.Enqueue(frame);
            if (removedUser == connection.Caller.UserId)
            {
                _ = connection.CloseAsync(ChatCloseReason.Removed);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read room {RoomId}'s sequence; ordering starts from the first message received")]
    private static partial void LogSequenceUnknown(ILogger logger, Exception exception, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Filled room {RoomId}'s gap {From}..{To} from Postgres")]
    private static partial void LogGapFilled(ILogger logger, Guid roomId, long from, long to);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not fill room {RoomId}'s gap {From}..{To} from Postgres")]
    private static partial void LogGapFillFailed(ILogger logger, Exception exception, Guid roomId, long from, long to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {RoomId} caught up {From}..{To} from Postgres after a reconnect")]
    private static partial void LogCaughtUp(ILogger logger, Guid roomId, long from, long to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Room {RoomId} could not catch up from seq {From} after a reconnect")]
    private static partial void LogCatchUpFailed(ILogger logger, Exception exception, Guid roomId, long from);
}
