using System.Text.Json;
using System.Threading.Channels;

namespace Conductor.Api.Chat;

/// <summary>
/// One room's local delivery, in seq order. Frames are delivered by whoever posts them (the writer that just stored
/// them, or the Redis subscription), under one lock, so each connection gets them in one order without a hop through a
/// loop of its own; the room's loop only does what needs waiting: learning where the room's sequence stands, filling
/// a gap from Postgres once it has lasted <see cref="ChatOptions.GapWait"/>, and catching up after a Redis reconnect.
/// </summary>
internal sealed partial class RoomFeed
{
    private readonly Guid _roomId;
    private readonly ChatStore _store;
    private readonly ChatOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<ChatConnection> _connections = [];
    private ChatConnection[] _members = [];
    private readonly Channel<FeedSignal> _signals = Channel.CreateUnbounded<FeedSignal>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Guards everything below: the delivery position, the frames held for a gap, and the loop's cues.</summary>
    private readonly Lock _gate = new();

    /// <summary>Frames that arrived ahead of <see cref="_next"/> (or before the room's position was known), by seq.</summary>
    private readonly SortedDictionary<long, OutboundFrame> _pending = [];

    /// <summary>The next seq to deliver; 0 while unknown (then the first message that arrives sets it).</summary>
    private long _next;

    /// <summary>False until the loop has read the room's last seq: until then chat frames are only held.</summary>
    private bool _started;

    /// <summary>The loop has been told about the gap in front of <see cref="_pending"/> (one cue per gap).</summary>
    private bool _gapSignalled;

    /// <summary>At most this many messages are replayed after a reconnect; clients page further back through history.</summary>
    private const int MaxCatchUp = 500;

    private enum FeedSignal
    {
        Gap,
        CatchUp,
    }

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

    public bool IsEmpty => _members.Length == 0;

    public void Add(ChatConnection connection)
    {
        lock (_connections)
        {
            _connections.Add(connection);
            _members = [.. _connections];
        }
    }

    public bool Remove(ChatConnection connection)
    {
        lock (_connections)
        {
            var removed = _connections.Remove(connection);
            _members = [.. _connections];
            return removed;
        }
    }

    /// <summary>The room's connections on this instance: an array replaced on every join and leave, so delivering a frame copies nothing.</summary>
    public IReadOnlyList<ChatConnection> Snapshot() => Volatile.Read(ref _members);

    /// <summary>
    /// Delivers the frame now when it is next in line (and whatever it unblocks), holds it when it is ahead of a gap,
    /// and drops it when it was delivered already (a resend, a frame filled from Postgres, this instance's own
    /// publish coming back). Frames without a seq (typing, presence, room events) have no place in the order: they
    /// go out at once.
    /// </summary>
    public void Post(OutboundFrame frame)
    {
        lock (_gate)
        {
            if (frame.Seq is not { } seq)
            {
                Deliver(frame);
                return;
            }
            if (_next != 0 && seq < _next)
            {
                return;
            }
            _pending.TryAdd(seq, frame);
            if (_started)
            {
                if (_next == 0)
                {
                    _next = seq; // the room's position is unknown: start from the first message that comes
                }
                DeliverPending();
            }
        }
    }

    /// <summary>
    /// Asks the feed's loop to deliver whatever Postgres holds beyond what it delivered: now, and once more a
    /// second later for a message stored while the resubscription was still on its way.
    /// </summary>
    public void CatchUp()
    {
        _signals.Writer.TryWrite(FeedSignal.CatchUp);
        _ = Task.Delay(TimeSpan.FromSeconds(1), _time, _stop.Token)
            .ContinueWith(_ => _signals.Writer.TryWrite(FeedSignal.CatchUp), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    public void Stop()
    {
        _signals.Writer.TryComplete();
        _stop.Cancel();
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        long? last = null;
        try
        {
            last = await _store.GetLastSeqAsync(_roomId, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception exception)
        {
            // Without the database's position, start from the first message Redis brings.
            LogSequenceUnknown(_logger, exception, _roomId);
        }
        lock (_gate)
        {
            _next = last + 1 ?? (_pending.Count > 0 ? _pending.Keys.First() : 0);
            DropDelivered();
            _started = true;
            DeliverPending();
        }
        _ready.TrySetResult();
        try
        {
            await foreach (var signal in _signals.Reader.ReadAllAsync(stop))
            {
                if (signal == FeedSignal.CatchUp)
                {
                    await CatchUpAsync(stop);
                    continue;
                }
                // A gap: give the missing seq GapWait to arrive (an instance's publish can overtake another's), then
                // read it from Postgres, where it was stored before anything was published.
                await Task.Delay(_options.GapWait, _time, stop);
                await FillGapAsync(stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task CatchUpAsync(CancellationToken stop)
    {
        long from;
        long last;
        try
        {
            last = await _store.GetLastSeqAsync(_roomId, stop);
            lock (_gate)
            {
                if (_next == 0)
                {
                    // Nothing delivered yet: start from what comes next.
                    _next = last + 1;
                    DropDelivered();
                    DeliverPending();
                    return;
                }
                if (last < _next)
                {
                    return;
                }
                from = Math.Max(_next, last - MaxCatchUp + 1);
            }
            var missed = await _store.GetRangeAsync(_roomId, from, last, stop);
            lock (_gate)
            {
                foreach (var message in missed)
                {
                    _pending.TryAdd(message.Seq, OutboundFrame.Create(message));
                }
                // More than MaxCatchUp behind: skip ahead (never back: live frames may have moved on meanwhile).
                _next = Math.Max(_next, from);
                DropDelivered();
                DeliverPending();
            }
            LogCaughtUp(_logger, _roomId, from, last);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The next message's gap fill (or the client's history request) still brings what was missed.
            LogCatchUpFailed(_logger, exception, _roomId, Volatile.Read(ref _next));
        }
    }

    private async Task FillGapAsync(CancellationToken stop)
    {
        long from;
        long upTo;
        lock (_gate)
        {
            _gapSignalled = false;
            if (_pending.Count == 0)
            {
                return; // the missing seq arrived meanwhile
            }
            from = _next;
            upTo = _pending.Keys.First() - 1;
        }
        IReadOnlyList<ChatMessage> filled = [];
        try
        {
            filled = await _store.GetRangeAsync(_roomId, from, upTo, stop);
            LogGapFilled(_logger, _roomId, from, upTo);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogGapFillFailed(_logger, exception, _roomId, from, upTo);
        }
        lock (_gate)
        {
            foreach (var message in filled)
            {
                if (message.Seq >= _next)
                {
                    _pending.TryAdd(message.Seq, OutboundFrame.Create(message));
                }
            }
            DeliverPending();
            if (_pending.Count > 0 && _pending.Keys.First() > _next && _pending.Keys.First() - 1 <= upTo)
            {
                // Postgres could not supply the gap: move on rather than hold the room forever (clients can still
                // read it through history).
                _next = _pending.Keys.First();
                DeliverPending();
            }
        }
    }

    /// <summary>Delivers the held frames that are next in line; cues the loop when a gap holds the rest back. Under <see cref="_gate"/>.</summary>
    private void DeliverPending()
    {
        while (_pending.Remove(_next, out var frame))
        {
            Deliver(frame);
            _next++;
        }
        if (_pending.Count > 0 && !_gapSignalled)
        {
            _gapSignalled = true;
            _signals.Writer.TryWrite(FeedSignal.Gap);
        }
    }

    /// <summary>Forgets held frames the position has passed. Under <see cref="_gate"/>.</summary>
    private void DropDelivered()
    {
        while (_pending.Count > 0 && _pending.Keys.First() < _next)
        {
            _pending.Remove(_pending.Keys.First());
        }
    }

    private void Deliver(OutboundFrame frame)
    {
        var connections = Volatile.Read(ref _members);
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
