using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Conductor.Redis.Connections;

/// <summary>
/// A logical connection that outlives its sockets. Callers enqueue commands from any thread; a single write loop
/// takes them in order and writes whatever has accumulated as one batch (so writes coalesce under load). When the
/// socket is lost, commands in flight fail, and the connection comes back with exponential backoff (capped, with
/// jitter), running the handshake (HELLO/AUTH, SELECT, then the role's own <c>onConnected</c>) each time. Commands
/// issued meanwhile wait for the new socket, each no longer than its timeout.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private const int MaxBatchSize = 1024;
    private static readonly TimeSpan HeldCommandCheckInterval = TimeSpan.FromMilliseconds(50);

    private readonly RedisConnectionOptions _options;
    private readonly ConnectionRole _role;
    private readonly ILogger _logger;
    private readonly Func<PhysicalConnection, CancellationToken, Task>? _onConnected;
    private readonly Action<RedisResult>? _onPush;
    private readonly Channel<PendingCommand> _unwritten = Channel.CreateUnbounded<PendingCommand>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly CancellationTokenSource _disposed = new();
    private readonly Timer _timeoutSweeper;
    private readonly Lock _stateLock = new();
    private TaskCompletionSource _connectedSignal = NewSignal();
    private PhysicalConnection? _current;
    private Task _writeLoop = Task.CompletedTask;
    private Task _reconnectLoop = Task.CompletedTask;
    private Exception? _lastConnectError;
    private bool _started;

    public RedisConnection(RedisConnectionOptions options, ConnectionRole role, ILogger logger,
        Func<PhysicalConnection, CancellationToken, Task>? onConnected = null, Action<RedisResult>? onPush = null)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("The Redis options name no endpoint.", nameof(options));
        }
        _options = options;
        _role = role;
        _logger = logger;
        _onConnected = onConnected;
        _onPush = onPush;
        var sweepInterval = TimeSpan.FromMilliseconds(Math.Clamp(options.SyncTimeout.TotalMilliseconds / 10, 10, 100));
        _timeoutSweeper = new Timer(static state => ((RedisConnection)state!).SweepTimeouts(), this, sweepInterval, sweepInterval);
    }

    public bool IsConnected => _current is { IsFailed: false };

    /// <summary>2 or 3 on the current socket; 0 when not connected.</summary>
    public int Protocol => _current?.Protocol ?? 0;

    public RedisConnectionOptions Options => _options;

    /// <summary>
    /// Makes the first connection attempt. When it fails and <paramref name="throwOnFailure"/> is set the failure is
    /// thrown (abortConnect=true); otherwise the connection keeps trying in the background.
    /// </summary>
    public async Task StartAsync(bool throwOnFailure, CancellationToken cancellationToken)
    {
        lock (_stateLock)
        {
            if (_started)
            {
                throw new InvalidOperationException("The connection has already been started.");
            }
            _started = true;
        }
        _writeLoop = Task.Run(WriteLoopAsync);
        try
        {
            var physical = await ConnectOnceAsync(cancellationToken).ConfigureAwait(false);
            Publish(physical, attempts: 0);
        }
        catch (Exception exception) when (!throwOnFailure && !_disposed.IsCancellationRequested)
        {
            _lastConnectError = exception;
            StartReconnecting();
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts connecting without waiting: commands queue until the connection is up.</summary>
    public void StartInBackground()
    {
        lock (_stateLock)
        {
            if (_started)
            {
                return;
            }
            _started = true;
        }
        _writeLoop = Task.Run(WriteLoopAsync);
        StartReconnecting();
    }

    public ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyList<RedisValue> args, TimeSpan? timeout,
        CancellationToken cancellationToken, CommandKind kind = CommandKind.Normal)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RedisResult>(cancellationToken);
        }
        if (_disposed.IsCancellationRequested)
        {
            return ValueTask.FromException<RedisResult>(new ObjectDisposedException(nameof(RedisConnection), "The Redis client has been disposed."));
        }
        var pending = new PendingCommand(command, args, timeout ?? _options.SyncTimeout, kind);
        pending.RegisterCancellation(cancellationToken);
        if (!_unwritten.Writer.TryWrite(pending))
        {
            pending.TrySetException(new ObjectDisposedException(nameof(RedisConnection), "The Redis client has been disposed."));
        }
        return pending.AsValueTask();
    }

    public async ValueTask DisposeAsync()
    {
        lock (_stateLock)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }
            _disposed.Cancel();
        }
        await _timeoutSweeper.DisposeAsync().ConfigureAwait(false);
        _unwritten.Writer.TryComplete();
        await _writeLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _reconnectLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var current = Interlocked.Exchange(ref _current, null);
        if (current is not null)
        {
            await current.DisposeAsync().ConfigureAwait(false);
        }
        while (_unwritten.Reader.TryRead(out var command))
        {
            command.TrySetException(new ObjectDisposedException(nameof(RedisConnection), "The Redis client has been disposed."));
        }
        RedisLog.Closed(_logger, _role);
        _disposed.Dispose();
    }

    private async Task<PhysicalConnection> ConnectOnceAsync(CancellationToken cancellationToken)
    {
        Exception? lastError = null;
        foreach (var endpoint in _options.Endpoints)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            timeout.CancelAfter(_options.ConnectTimeout);
            using var activity = RedisTelemetry.ActivitySource.StartActivity("redis connect");
            activity?.SetTag("server.address", endpoint.Host);
            activity?.SetTag("server.port", endpoint.Port);
            PhysicalConnection? physical = null;
            try
            {
                physical = await PhysicalConnection.ConnectAsync(endpoint, _options, _role, timeout.Token).ConfigureAwait(false);
                physical.StartReading(OnPhysicalFailed, _onPush);
                using var registration = timeout.Token.UnsafeRegister(
                    static state => ((PhysicalConnection)state!).Fail(new RedisConnectionException("The connection handshake timed out.")), physical);
                await HandshakeAsync(physical, timeout.Token).ConfigureAwait(false);
                if (_onConnected is not null)
                {
                    await _onConnected(physical, timeout.Token).ConfigureAwait(false);
                }
                if (physical.IsFailed)
                {
                    throw physical.FailureReason ?? new RedisConnectionException($"The connection to {endpoint} failed during its handshake.");
                }
                return physical;
            }
            catch (Exception exception)
            {
                if (physical is not null)
                {
                    await physical.DisposeAsync().ConfigureAwait(false);
                }
                RedisTelemetry.ConnectionFailures.Add(1);
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, exception.GetType().Name);
                lastError = exception switch
                {
                    RedisConnectionException => exception,
                    OperationCanceledException when _disposed.IsCancellationRequested =>
                        new ObjectDisposedException(nameof(RedisConnection), "The Redis client has been disposed."),
                    OperationCanceledException when !cancellationToken.IsCancellationRequested =>
                        new RedisConnectionException($"Could not connect to Redis at {endpoint} within {(long)_options.ConnectTimeout.TotalMilliseconds} ms.", exception),
                    OperationCanceledException => exception,
                    _ => new RedisConnectionException($"Could not connect to Redis at {endpoint}: {exception.Message}", exception),
                };
                if (lastError is RedisAuthenticationException or ObjectDisposedException || cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }
        }
        throw lastError!;
    }

    /// <summary>HELLO 3 (with AUTH) when the server knows it, else AUTH; then SELECT. Never logs or throws the password.</summary>
    private async Task HandshakeAsync(PhysicalConnection physical, CancellationToken cancellationToken)
    {
        var timeout = _options.ConnectTimeout;
        var user = _options.User ?? "default";
        var useResp2 = !_options.PreferResp3;
        if (!useResp2)
        {
            List<RedisValue> hello = ["3"];
            if (_options.Password is not null)
            {
                hello.AddRange(["AUTH", user, _options.Password]);
            }
            if (_options.ClientName is not null)
            {
                hello.AddRange(["SETNAME", _options.ClientName]);
            }
            try
            {
                await physical.ExecuteDirectAsync(new PendingCommand("HELLO", hello, timeout), cancellationToken).ConfigureAwait(false);
                physical.Protocol = 3;
            }
            catch (RedisServerException exception) when (exception.ErrorCode == "NOPROTO" ||
                exception.ErrorMessage.StartsWith("ERR unknown command", StringComparison.OrdinalIgnoreCase))
            {
                RedisLog.FallingBackToResp2(_logger, exception.ErrorCode);
                useResp2 = true;
            }
            catch (RedisServerException exception)
            {
                throw RedisAuthenticationException.From(exception, _options.User, physical.Endpoint);
            }
        }
        if (useResp2)
        {
            if (_options.Password is not null)
            {
                RedisValue[] auth = _options.User is null ? [_options.Password] : [_options.User, _options.Password];
                try
                {
                    await physical.ExecuteDirectAsync(new PendingCommand("AUTH", auth, timeout), cancellationToken).ConfigureAwait(false);
                }
                catch (RedisServerException exception)
                {
                    throw RedisAuthenticationException.From(exception, _options.User, physical.Endpoint);
                }
            }
            if (_options.ClientName is not null)
            {
                await physical.ExecuteDirectAsync(new PendingCommand("CLIENT", ["SETNAME", _options.ClientName], timeout), cancellationToken).ConfigureAwait(false);
            }
        }
        if (_options.DefaultDatabase != 0)
        {
            try
            {
                await physical.ExecuteDirectAsync(new PendingCommand("SELECT", [_options.DefaultDatabase], timeout), cancellationToken).ConfigureAwait(false);
            }
            catch (RedisServerException exception)
            {
                throw new RedisConnectionException($"SELECT {_options.DefaultDatabase} failed on {physical.Endpoint}: {exception.ErrorMessage}", exception);
            }
        }
    }

    private void Publish(PhysicalConnection physical, int attempts)
    {
        lock (_stateLock)
        {
            if (_disposed.IsCancellationRequested)
            {
                _ = physical.DisposeAsync().AsTask();
                return;
            }
            _current = physical;
            _lastConnectError = null;
            _connectedSignal.TrySetResult();
        }
        if (attempts == 0)
        {
            RedisLog.Connected(_logger, _role, physical.Endpoint, physical.Protocol, _options.DefaultDatabase);
        }
        else
        {
            RedisTelemetry.Reconnects.Add(1);
            RedisLog.Reconnected(_logger, _role, physical.Endpoint, attempts);
        }
    }

    private void OnPhysicalFailed(PhysicalConnection physical, Exception reason)
    {
        lock (_stateLock)
        {
            if (!ReferenceEquals(_current, physical))
            {
                return; // a connection that failed during its handshake; ConnectOnceAsync deals with it
            }
            _current = null;
            _connectedSignal = NewSignal();
            if (_disposed.IsCancellationRequested)
            {
                return;
            }
            _lastConnectError = reason;
        }
        RedisTelemetry.ConnectionFailures.Add(1);
        RedisLog.ConnectionLost(_logger, reason, _role, physical.Endpoint, physical.InFlightCount);
        _ = physical.DisposeAsync().AsTask();
        StartReconnecting();
    }

    private void StartReconnecting()
    {
        lock (_stateLock)
        {
            if (_disposed.IsCancellationRequested || !_reconnectLoop.IsCompleted)
            {
                return;
            }
            _reconnectLoop = Task.Run(ReconnectLoopAsync);
        }
    }

    private async Task ReconnectLoopAsync()
    {
        for (var attempt = 1; !_disposed.IsCancellationRequested; attempt++)
        {
            try
            {
                var physical = await ConnectOnceAsync(CancellationToken.None).ConfigureAwait(false);
                Publish(physical, attempt);
                return;
            }
            catch (Exception exception) when (!_disposed.IsCancellationRequested)
            {
                _lastConnectError = exception;
                var delay = ReconnectBackoff.Delay(attempt, _options.ReconnectBaseDelay, _options.ReconnectMaxDelay);
                RedisLog.ConnectAttemptFailed(_logger, exception, _role, attempt, _options.Endpoints[0], (long)delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, _disposed.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (Exception)
            {
                return; // disposed while connecting
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingCommand>(64);
        var held = new List<PendingCommand>();
        var reader = _unwritten.Reader;
        try
        {
            while (!_disposed.IsCancellationRequested)
            {
                var physical = _current;
                if (physical is null || physical.IsFailed)
                {
                    // No socket: hold commands (in order) until one is up, failing those whose time runs out.
                    while (reader.TryRead(out var waiting))
                    {
                        held.Add(waiting);
                    }
                    ExpireHeld(held);
                    var signal = _connectedSignal.Task;
                    if (!signal.IsCompleted)
                    {
                        await Task.WhenAny(signal, Task.Delay(HeldCommandCheckInterval, _disposed.Token)).ConfigureAwait(false);
                    }
                    else
                    {
                        await Task.Yield();
                    }
                    continue;
                }
                if (held.Count > 0)
                {
                    batch.AddRange(held.Where(command => !command.IsCompleted));
                    held.Clear();
                }
                else if (!reader.TryPeek(out _))
                {
                    if (!await reader.WaitToReadAsync(_disposed.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                    continue; // the socket may have gone while we waited
                }
                while (batch.Count < MaxBatchSize && reader.TryRead(out var command))
                {
                    // A command cancelled or timed out before it was written is never sent.
                    if (!command.IsCompleted)
                    {
                        batch.Add(command);
                    }
                }
                if (batch.Count > 0)
                {
                    await physical.WriteAsync(batch, _disposed.Token).ConfigureAwait(false);
                    batch.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
            // disposing
        }
        finally
        {
            var disposed = new ObjectDisposedException(nameof(RedisConnection), "The Redis client has been disposed.");
            foreach (var command in held.Concat(batch))
            {
                command.TrySetException(disposed);
            }
        }
    }

    private void ExpireHeld(List<PendingCommand> held)
    {
        var now = Environment.TickCount64;
        held.RemoveAll(command =>
        {
            if (command.IsCompleted)
            {
                return true;
            }
            if (now < command.DeadlineTicks)
            {
                return false;
            }
            var cause = _lastConnectError;
            command.TrySetException(new RedisConnectionException(
                $"No connection to Redis at {string.Join(',', _options.Endpoints)} within {command.TimeoutMilliseconds} ms for {command.Command}" +
                (cause is null ? "." : $" (last error: {cause.Message})"), cause));
            return true;
        });
    }

    private void SweepTimeouts()
    {
        try
        {
            _current?.ExpireTimedOut(Environment.TickCount64);
        }
        catch (Exception)
        {
            // A timer callback must not throw; the next tick sweeps again.
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Exponential backoff with "equal jitter": half the delay fixed, half random, so clients spread out.</summary>
internal static class ReconnectBackoff
{
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        var exponent = Math.Min(attempt - 1, 30);
        var capped = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(capped / 2 + Random.Shared.NextDouble() * capped / 2);
    }
}
