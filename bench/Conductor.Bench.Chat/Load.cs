using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

/// <summary>One client: where it connects (with its token in the query, as browsers do) and the size of its room.</summary>
/// <summary>A client's socket: its URL, its room's size, and the access token it sends in its Authorization header (none for the bare echo).</summary>
internal sealed record ClientTarget(Uri Url, int RoomSize, string? AccessToken = null);

/// <summary>What one load run measured, and the servers' CPU time and peak memory while it ran.</summary>
internal sealed record LoadResult(int Connections, long Sent, long Expected, long Delivered, long Errors, TimeSpan Elapsed, double[] LatenciesMs,
    TimeSpan ServerCpu, long ServerPeakBytes, TimeSpan BackendCpu)
{
    public double Percentile(double p)
    {
        if (LatenciesMs.Length == 0)
        {
            return double.NaN;
        }
        var sorted = LatenciesMs.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public double Max => LatenciesMs.Length == 0 ? double.NaN : LatenciesMs.Max();
}

/// <summary>
/// The two loads. Every chat frame's content is <c>client|n|send time (ms on the bench's clock)</c>, so each receiver
/// measures delivery latency itself; the clients read chat frames by a byte search, not a JSON parse, to keep the
/// bench's own CPU out of the way.
/// </summary>
internal static class Load
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private static readonly byte[] ChatType = "\"type\":\"chat\""u8.ToArray();
    private static readonly byte[] ContentField = "\"content\":\""u8.ToArray();

    /// <summary>
    /// Closed loop: every client sends <paramref name="count"/> messages, each once its previous one came back to it;
    /// all clients are in one room, so every client receives every message.
    /// </summary>
    public static async Task<LoadResult> ClosedLoopAsync(IReadOnlyList<ClientTarget> targets, int count, IReadOnlyList<ServerProcess> servers,
        Func<TimeSpan> backendCpu, CancellationToken cancellationToken)
    {
        var sockets = await ConnectAllAsync(targets, cancellationToken);
        var latencies = new ConcurrentBag<double>();
        long delivered = 0;
        var cpuBefore = Cpu(servers);
        var backendBefore = backendCpu();
        ResetPeaks(servers);
        var started = Clock.Elapsed;
        var tasks = sockets.Select((socket, index) => Task.Run(async () =>
        {
            var ownEcho = new SemaphoreSlim(0);
            var receiver = Task.Run(async () =>
            {
                var buffer = new byte[1 << 16];
                var perReceiver = count * sockets.Count;
                for (var received = 0; received < perReceiver;)
                {
                    var frame = await ReceiveFrameAsync(socket, buffer, cancellationToken);
                    if (frame.IsEmpty)
                    {
                        return;
                    }
                    if (TryReadChat(frame.Span, out var client, out var sentAt))
                    {
                        latencies.Add(Clock.Elapsed.TotalMilliseconds - sentAt);
                        received++;
                        Interlocked.Increment(ref delivered);
                        if (client == index)
                        {
                            ownEcho.Release();
                        }
                    }
                }
            }, cancellationToken);
            for (var n = 0; n < count; n++)
            {
                await SendAsync(socket, index, n, Clock.Elapsed.TotalMilliseconds, cancellationToken);
                await ownEcho.WaitAsync(cancellationToken);
            }
            return receiver;
        }, cancellationToken)).ToList();
        var receivers = await Task.WhenAll(tasks);
        await Task.WhenAll(receivers).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        var elapsed = Clock.Elapsed - started;
        var cpu = Cpu(servers) - cpuBefore;
        var backend = backendCpu() - backendBefore;
        await CloseAllAsync(sockets);
        var expected = (long)count * sockets.Count * sockets.Count;
        return new LoadResult(sockets.Count, count * sockets.Count, expected, delivered, 0, elapsed, [.. latencies], cpu, Peak(servers), backend);
    }

    /// <summary>
    /// Open loop: every client sends a message every <paramref name="interval"/> (from a random phase) whether or not
    /// anything came back, timed from when it was due, so a slow server shows as latency instead of a slower load.
    /// Only messages due in the measured window count; deliveries still missing 10 s after it are lost.
    /// </summary>
    public static async Task<LoadResult> OpenLoopAsync(IReadOnlyList<ClientTarget> targets, TimeSpan interval, TimeSpan warmup, TimeSpan duration,
        IReadOnlyList<ServerProcess> servers, Func<TimeSpan> backendCpu, CancellationToken cancellationToken)
    {
        var sockets = await ConnectAllAsync(targets, cancellationToken);
        var start = Clock.Elapsed.TotalMilliseconds + 500;
        var measureFrom = start + warmup.TotalMilliseconds;
        var measureTo = measureFrom + duration.TotalMilliseconds;
        long sent = 0, expected = 0, delivered = 0, errors = 0;
        var latencies = new List<double>[sockets.Count];
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receivers = sockets.Select((socket, index) =>
        {
            var mine = latencies[index] = new List<double>(1024);
            return Task.Run(async () =>
            {
                var buffer = new byte[1 << 16];
                try
                {
                    while (true)
                    {
                        var frame = await ReceiveFrameAsync(socket, buffer, receiving.Token);
                        if (frame.IsEmpty)
                        {
                            return;
                        }
                        var now = Clock.Elapsed.TotalMilliseconds;
                        if (TryReadChat(frame.Span, out _, out var sentAt))
                        {
                            if (sentAt >= measureFrom && sentAt < measureTo)
                            {
                                mine.Add(now - sentAt);
                                Interlocked.Increment(ref delivered);
                            }
                        }
                        else if (frame.Span.IndexOf("\"type\":\"error\""u8) >= 0)
                        {
                            Interlocked.Increment(ref errors);
                        }
                    }
                }
                catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
                {
                }
            }, CancellationToken.None);
        }).ToList();

        var measuring = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, measureFrom - Clock.Elapsed.TotalMilliseconds)), cancellationToken);
            var before = Cpu(servers);
            var backendBefore = backendCpu();
            ResetPeaks(servers);
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, measureTo - Clock.Elapsed.TotalMilliseconds)), cancellationToken);
            return (Cpu(servers) - before, Peak(servers), backendCpu() - backendBefore);
        }, cancellationToken);

        var senders = sockets.Select((socket, index) => Task.Run(async () =>
        {
            var due = start + Random.Shared.NextDouble() * interval.TotalMilliseconds;
            for (var n = 0; due < measureTo; n++, due += interval.TotalMilliseconds)
            {
                var wait = due - Clock.Elapsed.TotalMilliseconds;
                if (wait > 1)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait), cancellationToken);
                }
                if (due >= measureFrom)
                {
                    Interlocked.Increment(ref sent);
                    Interlocked.Add(ref expected, targets[index].RoomSize);
                }
                await SendAsync(socket, index, n, due, cancellationToken);
            }
        }, cancellationToken)).ToList();
        await Task.WhenAll(senders);
        var (cpu, peak, backend) = await measuring;
        var drainUntil = Clock.Elapsed + TimeSpan.FromSeconds(10);
        while (Interlocked.Read(ref delivered) < Interlocked.Read(ref expected) && Clock.Elapsed < drainUntil)
        {
            await Task.Delay(50, cancellationToken);
        }
        await receiving.CancelAsync();
        await Task.WhenAll(receivers);
        await CloseAllAsync(sockets);
        return new LoadResult(sockets.Count, sent, expected, delivered, errors, duration, [.. latencies.SelectMany(l => l)], cpu, peak, backend);
    }

    private static async Task<List<ClientWebSocket>> ConnectAllAsync(IReadOnlyList<ClientTarget> targets, CancellationToken cancellationToken)
    {
        var sockets = new ClientWebSocket[targets.Count];
        await Parallel.ForAsync(0, targets.Count, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var socket = new ClientWebSocket();
            if (targets[i].AccessToken is { } accessToken)
            {
                socket.Options.SetRequestHeader("Authorization", "Bearer " + accessToken);
            }
            await socket.ConnectAsync(targets[i].Url, ct);
            // The welcome (the Api's presence, the echo's hello): from then on the socket receives its room.
            if ((await ReceiveFrameAsync(socket, new byte[1 << 16], ct)).IsEmpty)
            {
                throw new InvalidOperationException($"{targets[i].Url.GetLeftPart(UriPartial.Path)} closed the socket at once.");
            }
            sockets[i] = socket;
        });
        return [.. sockets];
    }

    private static async Task CloseAllAsync(IEnumerable<ClientWebSocket> sockets) =>
        await Parallel.ForEachAsync(sockets, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (socket, _) =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
            {
            }
            socket.Dispose();
        });

    private static Task SendAsync(ClientWebSocket socket, int client, int n, double dueMs, CancellationToken cancellationToken)
    {
        var content = string.Create(CultureInfo.InvariantCulture, $"{client}|{n}|{dueMs:F3}");
        return socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = "chat", content }), WebSocketMessageType.Text, true, cancellationToken);
    }

    /// <summary>A chat frame's sender and send time, read from its content without parsing the JSON.</summary>
    private static bool TryReadChat(ReadOnlySpan<byte> frame, out int client, out double sentAt)
    {
        client = -1;
        sentAt = 0;
        if (frame.IndexOf(ChatType) < 0)
        {
            return false;
        }
        var at = frame.IndexOf(ContentField);
        if (at < 0)
        {
            return false;
        }
        var content = frame[(at + ContentField.Length)..];
        content = content[..content.IndexOf((byte)'"')];
        var first = content.IndexOf((byte)'|');
        var last = content.LastIndexOf((byte)'|');
        return Utf8Parser.TryParse(content[..first], out client, out _)
            && Utf8Parser.TryParse(content[(last + 1)..], out sentAt, out _);
    }

    private static async Task<ReadOnlyMemory<byte>> ReceiveFrameAsync(ClientWebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return ReadOnlyMemory<byte>.Empty;
            }
            length += result.Count;
            if (result.EndOfMessage)
            {
                return buffer.AsMemory(0, length);
            }
        }
    }

    private static TimeSpan Cpu(IReadOnlyList<ServerProcess> servers) => servers.Aggregate(TimeSpan.Zero, (sum, s) => sum + s.CpuTime);

    private static void ResetPeaks(IReadOnlyList<ServerProcess> servers)
    {
        foreach (var server in servers)
        {
            server.ResetPeak();
        }
    }

    private static long Peak(IReadOnlyList<ServerProcess> servers) => servers.Sum(s => s.PeakBytes);
}
