using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using Conductor.Redis.Protocol;

namespace Conductor.Redis.Connections;

/// <summary>
/// One socket to the server. Commands are written by a single writer (the owning <see cref="RedisConnection"/>'s
/// write loop, or the handshake before that loop sees this connection) and queued in order; the read loop matches
/// each reply to the oldest queued command. Any failure (socket error, end of stream, malformed frame) fails the
/// connection once: every command in flight fails with <see cref="RedisConnectionException"/> and the owner is told.
/// </summary>
internal sealed class PhysicalConnection : IAsyncDisposable
{
    private const int ReadBufferSize = 64 * 1024;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly ConcurrentQueue<PendingCommand> _inFlight = new();
    private readonly PooledBufferWriter _writeBuffer = new();
    private readonly ConnectionRole _role;
    private Action<PhysicalConnection, Exception>? _onFailed;
    private Action<RedisResult>? _onPush;
    private Task _readLoop = Task.CompletedTask;
    private int _failed;

    private PhysicalConnection(RedisEndpoint endpoint, Socket socket, Stream stream, ConnectionRole role)
    {
        Endpoint = endpoint;
        _socket = socket;
        _stream = stream;
        _role = role;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: ReadBufferSize, minimumReadSize: 4096, leaveOpen: true));
    }

    public RedisEndpoint Endpoint { get; }

    /// <summary>2 or 3, settled by the handshake.</summary>
    public int Protocol { get; set; } = 2;

    public bool IsFailed => Volatile.Read(ref _failed) != 0;

    public int InFlightCount => _inFlight.Count;

    public Exception? FailureReason { get; private set; }

    public static async Task<PhysicalConnection> ConnectAsync(RedisEndpoint endpoint, RedisConnectionOptions options,
        ConnectionRole role, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (options.Ssl)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = options.SslHost ?? endpoint.Host },
                    cancellationToken).ConfigureAwait(false);
                stream = ssl;
            }
            return new PhysicalConnection(endpoint, socket, stream, role);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void StartReading(Action<PhysicalConnection, Exception> onFailed, Action<RedisResult>? onPush)
    {
        _onFailed = onFailed;
        _onPush = onPush;
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Writes a batch as one socket write. Only one caller at a time (the single writer).</summary>
    public async ValueTask WriteAsync(IReadOnlyList<PendingCommand> batch, CancellationToken cancellationToken)
    {
        if (IsFailed)
        {
            FailCommands(batch);
            return;
        }
        _writeBuffer.Reset();
        // Queue before writing: the reply may arrive before WriteAsync returns.
        foreach (var command in batch)
        {
            RespWriter.WriteCommand(_writeBuffer, command.Command, command.Args);
            _inFlight.Enqueue(command);
        }
        if (IsFailed)
        {
            // Fail() may have drained the queue before these were added.
            DrainInFlight();
            return;
        }
        try
        {
            await _stream.WriteAsync(_writeBuffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            RedisTelemetry.CommandsSent.Add(batch.Count);
        }
        catch (Exception exception)
        {
            Fail(exception);
        }
    }

    /// <summary>Sends one command and waits for its reply; used during the handshake, before the write loop runs.</summary>
    public async Task<RedisResult> ExecuteDirectAsync(PendingCommand command, CancellationToken cancellationToken)
    {
        await WriteAsync([command], cancellationToken).ConfigureAwait(false);
        return await command.AsValueTask().ConfigureAwait(false);
    }

    /// <summary>Times out commands past their deadline. Their replies are still consumed when they come.</summary>
    public void ExpireTimedOut(long nowTicks)
    {
        foreach (var command in _inFlight)
        {
            if (nowTicks >= command.DeadlineTicks && !command.IsCompleted &&
                command.TrySetException(new RedisTimeoutException(
                    $"Timeout after {command.TimeoutMilliseconds} ms waiting for the reply to {command.Command} from {Endpoint} " +
                    $"({_inFlight.Count} commands in flight).")))
            {
                RedisTelemetry.CommandTimeouts.Add(1);
            }
        }
    }

    public void Fail(Exception reason)
    {
        if (Interlocked.Exchange(ref _failed, 1) != 0)
        {
            return;
        }
        FailureReason = reason;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
            // Already closed by the peer: nothing to shut down.
        }
        _socket.Close();
        DrainInFlight();
        _onFailed?.Invoke(this, reason);
    }

    public async ValueTask DisposeAsync()
    {
        Fail(new RedisConnectionException($"The connection to {Endpoint} was closed by the client."));
        await _readLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _writeBuffer.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var read = await _reader.ReadAsync().ConfigureAwait(false);
                var buffer = read.Buffer;
                while (RespParser.TryRead(ref buffer, out var frame))
                {
                    Dispatch(frame);
                }
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted || read.IsCanceled)
                {
                    failure = new RedisConnectionException(buffer.IsEmpty
                        ? $"The server at {Endpoint} closed the connection."
                        : $"The server at {Endpoint} closed the connection in the middle of a reply.");
                    break;
                }
            }
        }
        catch (RedisProtocolException exception)
        {
            failure = new RedisConnectionException($"Protocol error on the connection to {Endpoint}: {exception.Message}", exception);
        }
        catch (Exception exception)
        {
            failure = IsFailed
                ? FailureReason
                : new RedisConnectionException($"The connection to {Endpoint} failed: {exception.Message}", exception);
        }
        Fail(failure ?? new RedisConnectionException($"The connection to {Endpoint} was closed."));
    }

    private void Dispatch(RedisResult frame)
    {
        if (IsPushed(frame))
        {
            var kind = frame.Elements.Count > 0 ? frame.Elements[0].AsString() : null;
            // SUBSCRIBE/UNSUBSCRIBE are acknowledged by a push, one per channel, in order.
            if (kind is "subscribe" or "psubscribe" or "unsubscribe" or "punsubscribe" or "ssubscribe" or "sunsubscribe" &&
                _inFlight.TryPeek(out var head) && head.Kind == CommandKind.PubSub && _inFlight.TryDequeue(out head))
            {
                head.TrySetResult(frame);
                return;
            }
            _onPush?.Invoke(frame);
            return;
        }
        if (!_inFlight.TryDequeue(out var command))
        {
            throw new RedisProtocolException($"Received a reply ({frame.Type}) when no command was waiting for one.");
        }
        if (frame.IsError)
        {
            command.TrySetException(new RedisServerException(frame.AsString() ?? "ERR", command.Command));
        }
        else
        {
            command.TrySetResult(frame);
        }
    }

    // RESP3 marks pushed data; in RESP2 a subscribed connection gets messages as arrays, recognised by their first word.
    private bool IsPushed(RedisResult frame) =>
        frame.Type == RedisResultType.Push ||
        (_role == ConnectionRole.Subscriber && Protocol == 2 && frame.Type == RedisResultType.Array && frame.Elements.Count >= 3 &&
         frame.Elements[0].Type == RedisResultType.BulkString &&
         frame.Elements[0].AsString() is "message" or "pmessage" or "smessage" or "subscribe" or "psubscribe" or "unsubscribe"
             or "punsubscribe" or "ssubscribe" or "sunsubscribe");

    private void DrainInFlight()
    {
        while (_inFlight.TryDequeue(out var command))
        {
            command.TrySetException(CreateLostException(command));
        }
    }

    private void FailCommands(IReadOnlyList<PendingCommand> commands)
    {
        foreach (var command in commands)
        {
            command.TrySetException(CreateLostException(command));
        }
    }

    private RedisConnectionException CreateLostException(PendingCommand command) =>
        new($"The connection to {Endpoint} was lost before the reply to {command.Command} arrived: {FailureReason?.Message}",
            FailureReason);
}
