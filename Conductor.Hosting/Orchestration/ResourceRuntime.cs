using Conductor.Hosting.ApplicationModel;
using Conductor.Hosting.Processes;
using Microsoft.Extensions.Logging;

namespace Conductor.Hosting.Orchestration;

public enum ResourceState { NotStarted, Waiting, Starting, Running, Stopping, Exited, Failed, Stopped }

public enum ResourceHealth { Unknown, Healthy, Unhealthy }

public sealed record ResourceEndpoint(string Name, string Url);

/// <summary>What the dashboard and <c>GET /api/resources</c> show of a resource.</summary>
public sealed record ResourceSnapshot(
    string Name,
    string Type,
    string State,
    string Health,
    IReadOnlyList<ResourceEndpoint> Endpoints,
    int? Pid,
    DateTimeOffset? StartedAt,
    int? ExitCode,
    IReadOnlyList<string> WaitsFor,
    int Restarts,
    string? Error);

/// <summary>The live side of a resource in run mode: start, stop, restart, health and console output.</summary>
public abstract class ResourceRuntime(Resource resource, ILogger logger)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _healthy = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ResourceState _state = ResourceState.NotStarted;
    private ResourceHealth _health = ResourceHealth.Unknown;

    public Resource Resource { get; } = resource;
    public string Name => Resource.Name;
    public ConsoleLog Console { get; } = new();
    protected ILogger Logger { get; } = logger;

    public ResourceState State { get { lock (_gate) { return _state; } } }
    public ResourceHealth Health { get { lock (_gate) { return _health; } } }
    public DateTimeOffset? StartedAt { get; protected set; }
    public int? ExitCode { get; protected set; }
    public string? Error { get; protected set; }
    public int Restarts { get; private set; }
    public virtual int? Pid => null;
    public virtual IReadOnlyList<ResourceEndpoint> Endpoints => [];

    /// <summary>Completes the first time the resource reports healthy after a start; what WaitFor waits on.</summary>
    public Task WhenHealthy { get { lock (_gate) { return _healthy.Task; } } }

    public event Action<ResourceRuntime>? Changed;

    /// <summary>Starts the resource; returns once its process runs (health is checked separately).</summary>
    public abstract Task StartAsync(CancellationToken cancellationToken);

    public abstract Task StopAsync();

    public abstract Task<bool> CheckHealthAsync(CancellationToken cancellationToken);

    public virtual async Task RestartAsync(CancellationToken cancellationToken)
    {
        Restarts++;
        await StopAsync().ConfigureAwait(false);
        lock (_gate)
        {
            if (_healthy.Task.IsCompleted)
            {
                _healthy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        SetHealth(ResourceHealth.Unknown);
        await StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public void SetState(ResourceState state, string? error = null)
    {
        lock (_gate)
        {
            if (_state == state && error == Error)
            {
                return;
            }
            _state = state;
            Error = error;
        }
        Logger.LogInformation("{Resource} is {State}{Error}", Name, state, error is null ? "" : $": {error}");
        Changed?.Invoke(this);
    }

    /// <summary>
    /// Applies a health probe's answer, but only while the resource is still running: a probe that was in flight
    /// when the process exited must not report the dead process healthy.
    /// </summary>
    public void ReportHealthCheck(bool healthy)
    {
        lock (_gate)
        {
            if (_state != ResourceState.Running)
            {
                return;
            }
        }
        // Until the first healthy answer a starting service is "unknown", not "unhealthy".
        SetHealth(healthy ? ResourceHealth.Healthy : WhenHealthy.IsCompleted ? ResourceHealth.Unhealthy : ResourceHealth.Unknown,
            requireRunning: true);
    }

    public void SetHealth(ResourceHealth health) => SetHealth(health, requireRunning: false);

    private void SetHealth(ResourceHealth health, bool requireRunning)
    {
        TaskCompletionSource? toComplete = null;
        lock (_gate)
        {
            if (_health == health || (requireRunning && _state != ResourceState.Running))
            {
                return;
            }
            _health = health;
            if (health == ResourceHealth.Healthy)
            {
                toComplete = _healthy;
            }
        }
        if (health != ResourceHealth.Unknown)
        {
            Logger.LogInformation("{Resource} is {Health}", Name, health);
        }
        toComplete?.TrySetResult();
        Changed?.Invoke(this);
    }

    /// <summary>
    /// Marks the resource exited when <paramref name="exited"/> completes while it is still the current process
    /// and still meant to run; a stop or restart we asked for changes the state first and is not reported.
    /// </summary>
    protected void ReportUnexpectedExit(Task<int> exited, Func<bool> isCurrent, string what)
    {
        _ = exited.ContinueWith(task =>
        {
            if (isCurrent() && State == ResourceState.Running)
            {
                ExitCode = task.Result;
                MarkStopped(task.Result == 0 ? ResourceState.Exited : ResourceState.Failed, $"{what} exited with code {task.Result}");
            }
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// Moves to a terminal state and unhealthy in one step, so no observer (or late health probe) ever sees a
    /// failed resource reported healthy.
    /// </summary>
    public void MarkStopped(ResourceState state, string error)
    {
        lock (_gate)
        {
            _state = state;
            _health = ResourceHealth.Unhealthy;
            Error = error;
        }
        Logger.LogInformation("{Resource} is {State}: {Error}", Name, state, error);
        Changed?.Invoke(this);
    }

    /// <summary>Fails anyone waiting for this resource, e.g. when it could not start.</summary>
    public void FailWaiters(Exception error)
    {
        lock (_gate)
        {
            _healthy.TrySetException(error);
        }
    }

    public ResourceSnapshot Snapshot() => new(
        Name, Resource.Type, State.ToString(), Health.ToString(), Endpoints, Pid, StartedAt, ExitCode,
        [.. Resource.WaitsFor.Select(r => r.Name)], Restarts, Error);
}
