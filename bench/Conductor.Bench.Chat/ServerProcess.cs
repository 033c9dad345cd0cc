using System.Diagnostics;

/// <summary>
/// A server the bench started as its own process (an Api instance, or the bare echo), so its CPU time and memory can
/// be read apart from the clients'. Killed with its children on dispose.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private long _peakBytes;
    private readonly CancellationTokenSource _stop = new();

    private ServerProcess(string name, Process process, Uri url)
    {
        Name = name;
        _process = process;
        Url = url;
        _ = SampleMemoryAsync();
    }

    public string Name { get; }
    public Uri Url { get; }
    public bool HasExited => _process.HasExited;
    public TimeSpan CpuTime { get { _process.Refresh(); return _process.TotalProcessorTime; } }
    public long WorkingSetBytes { get { _process.Refresh(); return _process.WorkingSet64; } }

    /// <summary>The most memory (working set) seen since the last <see cref="ResetPeak"/>, sampled every 250 ms.</summary>
    public long PeakBytes => Math.Max(Interlocked.Read(ref _peakBytes), WorkingSetBytes);

    public void ResetPeak() => Interlocked.Exchange(ref _peakBytes, 0);

    public static ServerProcess Start(string name, string dll, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, Uri url)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll),
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start)!;
        // Drain the output so the server never blocks on a full pipe; show errors.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[{name}] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServerProcess(name, process, url);
    }

    public async Task WaitUntilAliveAsync(string path, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(2) };
        for (var attempt = 0; attempt < 900; attempt++)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} before it was alive.");
            }
            try
            {
                using var response = await http.GetAsync(path, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"{Name} did not become alive.");
    }

    private async Task SampleMemoryAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested && !_process.HasExited)
            {
                var bytes = WorkingSetBytes;
                long seen;
                while (bytes > (seen = Interlocked.Read(ref _peakBytes)) && Interlocked.CompareExchange(ref _peakBytes, bytes, seen) != seen)
                {
                }
                await Task.Delay(250, _stop.Token);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
        _stop.Dispose();
    }
}
