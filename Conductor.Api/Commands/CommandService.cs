using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using Conductor.Api.Audit;
using Conductor.Api.Rooms;
using Conductor.Api.Sandbox;
using Conductor.Workspaces;
using Microsoft.Extensions.Options;
using RedisRateLimiting;
using StackExchange.Redis;

namespace Conductor.Api.Commands;

/// <summary>
/// Runs allowlisted commands in the room's sandbox: checks (rate, allowlist, workspace, the room's concurrency),
/// records and audits the run, streams its output to watchers and the room, enforces wall time and output size,
/// and kills the whole process tree on cancel. Cancels reach the instance running the command through Redis.
/// </summary>
public sealed partial class CommandService(
    CommandStore store,
    AuditLog audit,
    RoomEventPublisher events,
    SandboxLauncher sandbox,
    WorkspaceRepository workspaces,
    IConnectionMultiplexer redis,
    IOptions<CommandOptions> options,
    IOptions<WorkspaceOptions> workspaceOptions,
    TimeProvider time,
    ILogger<CommandService> logger) : IHostedService, IDisposable
{
    private static readonly RedisChannel CancelChannel = RedisChannel.Literal("commands:cancel");
    private readonly ConcurrentDictionary<Guid, RunningCommand> _running = new();
    private readonly CancellationTokenSource _stopping = new();
    // Kept in Redis (RedisRateLimiting), so a user's budget is one however many Api instances their requests reach.
    private readonly PartitionedRateLimiter<Guid> _rate = PartitionedRateLimiter.Create<Guid, string>(user =>
        RedisRateLimitPartition.GetTokenBucketRateLimiter("commands:" + user.ToString("D"), _ => new RedisTokenBucketRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => redis,
            TokenLimit = options.Value.RunBurst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1.0 / options.Value.RunsPerMinute),
        }));

    private CommandOptions Limits => options.Value;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(CancelChannel);
        queue.OnMessage(message =>
        {
            var text = message.Message.ToString();
            if (Guid.TryParse(text.AsSpan(0, Math.Min(36, text.Length)), out var id) && _running.TryGetValue(id, out var running))
            {
                running.CancelledBy ??= text.Length > 37 && Guid.TryParse(text.AsSpan(37), out var by) ? by : null;
                running.CancelSource.Cancel();
            }
        });
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await ((Task)Task.WhenAll(_running.Values.Select(r => r.Completion))).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _rate.Dispose();
    }

    /// <summary>The run if it is running on this instance (its live output is here).</summary>
    public RunningCommand? FindLocal(Guid roomId, Guid id) => _running.TryGetValue(id, out var run) && run.Run.RoomId == roomId ? run : null;

    public async Task<CommandStart> BeginAsync(Guid roomId, Guid userId, string login, RunCommandRequest request, CancellationToken cancellationToken)
    {
        using var lease = await _rate.AcquireAsync(userId, 1, cancellationToken);
        if (!lease.IsAcquired)
        {
            return Problem(429, CommandErrors.RateLimited, "Too many commands",
                $"At most {Limits.RunBurst} commands at once and {Limits.RunsPerMinute} a minute per user.");
        }
        var timeout = request.TimeoutS ?? Limits.DefaultTimeoutSeconds;
        if (timeout < 1 || timeout > Limits.MaxTimeoutSeconds)
        {
            return Problem(400, CommandErrors.Invalid, "Invalid timeout", $"timeout_s must be between 1 and {Limits.MaxTimeoutSeconds}.");
        }
        var settings = await store.GetSettingsAsync(roomId, cancellationToken);
        var decision = CommandPolicy.Decide(request.Command, request.Args, settings.Allowlist);
        if (!decision.Allowed)
        {
            if (decision.Malformed)
            {
                return Problem(400, CommandErrors.Invalid, "Invalid command", decision.Refusal!);
            }
            var attempted = request.Args is null ? request.Command! : string.Join(' ', [request.Command!, .. request.Args]);
            await audit.AppendAsync(roomId, userId, AuditActions.CommandRefused, "server", null, null, "", $"{attempted}: {decision.Refusal}", cancellationToken);
            await events.PublishAsync(roomId, CommandEvent.Refused, new CommandEvent(CommandEvent.Refused, roomId, Guid.Empty, userId, login,
                Reason: decision.Refusal, Argv: request.Args is null ? [request.Command!] : [request.Command!, .. request.Args], At: time.GetUtcNow()), cancellationToken);
            return Problem(403, CommandErrors.NotAllowed, "Command not allowed", decision.Refusal!);
        }
        var workspace = await workspaces.GetAsync(roomId, cancellationToken);
        var worktree = Path.Combine(workspaceOptions.Value.WorktreesPath, roomId.ToString("D"));
        if (workspace is not { Status: "ready" } || !Directory.Exists(worktree))
        {
            return Problem(409, CommandErrors.NoWorkspace, "No workspace", "Commands run in the room's workspace, which is not ready.");
        }
        var run = new CommandRun(Guid.CreateVersion7(), roomId, userId, login, decision.Argv!, CommandStatus.Running, null, timeout, time.GetUtcNow(),
            null, null, 0, false, null);
        if (!await store.TryStartAsync(run, settings.MaxConcurrent, cancellationToken))
        {
            return Problem(409, CommandErrors.Busy, "A command is running",
                $"This room runs at most {settings.MaxConcurrent} command(s) at once; wait for it to finish or cancel it.");
        }
        await audit.AppendAsync(roomId, userId, AuditActions.CommandRun, "server", null, null, "", $"{run.Id:D}: {string.Join(' ', run.Argv)}", cancellationToken);
        var running = new RunningCommand(run);
        _running[run.Id] = running;
        await events.PublishAsync(roomId, CommandEvent.Started, new CommandEvent(CommandEvent.Started, roomId, run.Id, userId, login, run.Argv, At: run.StartedAt),
            cancellationToken);
        _ = Task.Run(() => RunAsync(running, worktree, settings.Network), CancellationToken.None);
        return new CommandStart(running, 201, null, null, null);
    }

    /// <summary>Asks whichever instance runs <paramref name="run"/> to stop it.</summary>
    public async Task CancelAsync(CommandRun run, Guid byUserId, CancellationToken cancellationToken)
    {
        await audit.AppendAsync(run.RoomId, byUserId, AuditActions.CommandCancelled, "server", null, null, "", $"{run.Id:D}: {string.Join(' ', run.Argv)}",
            cancellationToken);
        if (_running.TryGetValue(run.Id, out var local))
        {
            local.CancelledBy ??= byUserId;
            await local.CancelSource.CancelAsync();
            return;
        }
        await redis.GetSubscriber().PublishAsync(CancelChannel, $"{run.Id:D}:{byUserId:D}").WaitAsync(cancellationToken);
    }

    private async Task RunAsync(RunningCommand running, string worktree, bool network)
    {
        var run = running.Run;
        var limits = Limits;
        var clock = Stopwatch.StartNew();
        var status = CommandStatus.Error;
        int? exitCode = null;
        long outputBytes = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(run.TimeoutS), time);
        using var outputLimit = new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, outputLimit.Token, running.CancelSource.Token, _stopping.Token);
        using var flushStop = new CancellationTokenSource();
        var flusher = FlushToRoomAsync(running, flushStop.Token);
        try
        {
            sandbox.PrepareWorktree(worktree);
            using var process = new Process { StartInfo = sandbox.CreateStartInfo(new SandboxSpec(worktree, run.Argv, network, MergeStderr: true)) };
            process.Start();
            process.StandardInput.Close();
            LogStarted(logger, run.Id, run.RoomId, process.Id);
            void Count(int bytes)
            {
                if (Interlocked.Add(ref outputBytes, bytes) > limits.MaxOutputBytes)
                {
                    outputLimit.Cancel();
                }
            }
            // stdout carries the command's stdout and stderr, merged inside the sandbox; bwrap's own stderr (a sandbox
            // that could not start) is read too, so its complaint is in the output.
            var pumps = Task.WhenAll(PumpAsync(process.StandardOutput.BaseStream, running, Count, limits.MaxOutputBytes, () => outputBytes),
                PumpAsync(process.StandardError.BaseStream, running, Count, limits.MaxOutputBytes, () => outputBytes));
            try
            {
                await process.WaitForExitAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                // The sandbox's PID namespace dies with its first process; killing the tree also reaches anything
                // that was between bwrap and the namespace.
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
            await pumps.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            exitCode = process.ExitCode;
            status = running.CancelSource.IsCancellationRequested || _stopping.IsCancellationRequested ? CommandStatus.Cancelled
                : timeout.IsCancellationRequested ? CommandStatus.TimedOut
                : outputLimit.IsCancellationRequested ? CommandStatus.OutputLimit
                : exitCode == 0 ? CommandStatus.Succeeded : CommandStatus.Failed;
            if (status is not (CommandStatus.Succeeded or CommandStatus.Failed))
            {
                running.Append($"\n[conductor] {Describe(status, run.TimeoutS, limits.MaxOutputBytes)}\n");
            }
        }
        catch (Exception exception) when (exception is IOException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            LogFailedToStart(logger, exception, run.Id, run.RoomId);
            // A machine without bubblewrap (a developer's, on a first run) gets the one line that fixes it, not the
            // process start's "No such file or directory".
            var reason = exception is System.ComponentModel.Win32Exception && !File.Exists(sandbox.Options.BwrapPath)
                ? $"bubblewrap is not installed at {sandbox.Options.BwrapPath} (Debian and Ubuntu: sudo apt-get install -y bubblewrap)."
                : exception.Message;
            running.Append($"[conductor] The sandbox could not start: {reason}\n");
        }
        await flushStop.CancelAsync();
        await flusher;
        var tail = running.Tail(limits.TailBytes);
        var final = run with
        {
            Status = status,
            ExitCode = exitCode,
            FinishedAt = time.GetUtcNow(),
            DurationMs = clock.ElapsedMilliseconds,
            OutputBytes = outputBytes,
            OutputTruncated = outputBytes > limits.MaxOutputBytes || running.TextLength > tail.Length,
            OutputTail = tail,
        };
        try
        {
            await store.FinishAsync(final, CancellationToken.None);
            await events.PublishAsync(run.RoomId, CommandEvent.Finished, new CommandEvent(CommandEvent.Finished, run.RoomId, run.Id, run.UserId, run.Login,
                Status: status, ExitCode: exitCode, DurationMs: final.DurationMs, At: final.FinishedAt), CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogFinishFailed(logger, exception, run.Id);
        }
        finally
        {
            _running.TryRemove(run.Id, out _);
            running.Complete(final);
            LogFinished(logger, run.Id, run.RoomId, status, exitCode, final.DurationMs ?? 0);
        }
    }

    private static string Describe(string status, int timeoutSeconds, long maxBytes) => status switch
    {
        CommandStatus.Cancelled => "Cancelled.",
        CommandStatus.TimedOut => $"Stopped after {timeoutSeconds} s (the command's wall-time limit).",
        CommandStatus.OutputLimit => $"Stopped: the output passed {maxBytes} bytes.",
        _ => status,
    };

    private static async Task PumpAsync(Stream stream, RunningCommand running, Action<int> count, long maxBytes, Func<long> total)
    {
        var decoder = new UTF8Encoding(false).GetDecoder();
        var buffer = new byte[8192];
        var chars = new char[8192 + 4];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                var before = total();
                count(read);
                if (before >= maxBytes)
                {
                    continue; // past the limit: drained (so the process never blocks on a full pipe) but not kept
                }
                var keep = (int)Math.Min(read, maxBytes - before);
                var decoded = decoder.GetChars(buffer, 0, keep, chars, 0, flush: false);
                running.Append(new string(chars, 0, decoded));
            }
            var rest = decoder.GetChars([], 0, 0, chars, 0, flush: true);
            running.Append(new string(chars, 0, rest));
        }
        catch (IOException)
        {
            // The pipe broke when the process tree was killed: the output so far stands.
        }
    }

    private async Task FlushToRoomAsync(RunningCommand running, CancellationToken stopToken)
    {
        var run = running.Run;
        long seq = 0;
        using var timer = new PeriodicTimer(Limits.OutputEventInterval, time);
        var stopping = false;
        while (!stopping)
        {
            try
            {
                await timer.WaitForNextTickAsync(stopToken);
            }
            catch (OperationCanceledException)
            {
                stopping = true; // one last flush
            }
            var text = running.TakePendingForRoom();
            for (var offset = 0; offset < text.Length; offset += MaxEventText)
            {
                var piece = text.Substring(offset, Math.Min(MaxEventText, text.Length - offset));
                await events.PublishAsync(run.RoomId, CommandEvent.Output, new CommandEvent(CommandEvent.Output, run.RoomId, run.Id, Seq: ++seq, Text: piece),
                    CancellationToken.None);
            }
        }
    }

    /// <summary>Characters of output per room event.</summary>
    private const int MaxEventText = 16 * 1024;

    private static CommandStart Problem(int status, string code, string title, string detail) => new(null, status, code, title, detail);

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, RoomEvent.SerializerOptions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Command {CommandId} started in room {RoomId} (sandbox pid {ProcessId})")]
    private static partial void LogStarted(ILogger logger, Guid commandId, Guid roomId, int processId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Command {CommandId} in room {RoomId} ended {Status} (exit {ExitCode}) after {DurationMs} ms")]
    private static partial void LogFinished(ILogger logger, Guid commandId, Guid roomId, string status, int? exitCode, long durationMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Command {CommandId} in room {RoomId} could not start its sandbox")]
    private static partial void LogFailedToStart(ILogger logger, Exception exception, Guid commandId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record the end of command {CommandId}")]
    private static partial void LogFinishFailed(ILogger logger, Exception exception, Guid commandId);
}
