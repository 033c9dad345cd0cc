using System.Threading.Tasks.Sources;

namespace Conductor.Redis.Connections;

/// <summary>
/// One command on its way to the server and back. It completes exactly once: with the reply, a server error, a
/// connection failure, a timeout or cancellation, whichever comes first. A command that completed early (cancelled,
/// timed out) stays in the connection's in-flight queue until its reply arrives and is discarded, which keeps the
/// replies matched to commands in order.
/// </summary>
internal sealed class PendingCommand : IValueTaskSource<RedisResult>
{
    // Continuations run on the thread pool so a caller can never stall (or deadlock) the connection's read loop.
    private ManualResetValueTaskSourceCore<RedisResult> _completion = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellationRegistration;
    private int _completed;

    public PendingCommand(string command, IReadOnlyList<RedisValue> args, TimeSpan timeout, CommandKind kind = CommandKind.Normal)
    {
        Command = command;
        Args = args;
        Kind = kind;
        TimeoutMilliseconds = (long)timeout.TotalMilliseconds;
        DeadlineTicks = Environment.TickCount64 + TimeoutMilliseconds;
    }

    public string Command { get; }

    public IReadOnlyList<RedisValue> Args { get; }

    public CommandKind Kind { get; }

    public long TimeoutMilliseconds { get; }

    /// <summary>In <see cref="Environment.TickCount64"/> milliseconds.</summary>
    public long DeadlineTicks { get; }

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    public ValueTask<RedisResult> AsValueTask() => new(this, _completion.Version);

    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellationRegistration = cancellationToken.UnsafeRegister(
                static (state, token) => ((PendingCommand)state!).TrySetException(new OperationCanceledException(token)), this);
        }
    }

    public bool TrySetResult(RedisResult result)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }
        _cancellationRegistration.Unregister();
        _completion.SetResult(result);
        return true;
    }

    public bool TrySetException(Exception exception)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }
        _cancellationRegistration.Unregister();
        _completion.SetException(exception);
        return true;
    }

    RedisResult IValueTaskSource<RedisResult>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<RedisResult>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<RedisResult>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _completion.OnCompleted(continuation, state, token, flags);
}

internal enum CommandKind
{
    Normal,

    /// <summary>SUBSCRIBE and friends: acknowledged by a push frame rather than an ordinary reply.</summary>
    PubSub,
}

/// <summary>What a logical connection is used for; decides how replies are told apart from pushed messages.</summary>
internal enum ConnectionRole
{
    /// <summary>The shared, multiplexed connection.</summary>
    Interactive,

    /// <summary>A connection leased for one blocking command at a time (XREADGROUP BLOCK).</summary>
    Blocking,

    /// <summary>The pub/sub connection; in RESP2 its messages arrive as ordinary arrays.</summary>
    Subscriber,
}
