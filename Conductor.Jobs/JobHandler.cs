using System.Text.Json;

namespace Conductor.Jobs;

/// <summary>
/// Runs one kind of job. Delivery is at least once: the same job id can arrive again after a worker died between
/// doing the work and storing the outcome, so a handler must be idempotent by <see cref="JobContext.JobId"/>.
/// Throwing retries the job with backoff; throwing <see cref="PermanentJobFailureException"/> fails it at once.
/// </summary>
public interface IJobHandler
{
    string Kind { get; }

    /// <summary>Returns the job's result (stored as jsonb), or null.</summary>
    Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken);
}

/// <summary>A failure that retrying cannot fix (a malformed payload, a repository that does not exist).</summary>
public sealed class PermanentJobFailureException(string message, Exception? innerException = null) : Exception(message, innerException);

public sealed class JobContext
{
    private readonly Func<double?, string?, CancellationToken, Task> _reportProgress;

    internal JobContext(JobRecord job, string workerId, Func<double?, string?, CancellationToken, Task> reportProgress)
    {
        Job = job;
        WorkerId = workerId;
        _reportProgress = reportProgress;
    }

    internal JobRecord Job { get; }
    public Guid JobId => Job.Id;
    public Guid RoomId => Job.RoomId;
    public string Kind => Job.Kind;
    public JsonElement Payload => Job.Payload;
    /// <summary>1 for the first attempt.</summary>
    public int Attempt => Job.Attempts;
    public int MaxAttempts => Job.MaxAttempts;
    /// <summary>The consumer running this attempt (host, pid, random suffix).</summary>
    public string WorkerId { get; }

    public T GetPayload<T>() =>
        Payload.Deserialize<T>() ?? throw new PermanentJobFailureException($"The {Kind} job's payload is empty.");

    /// <summary>Publishes a progress event on the room's channel (best effort: a lost event loses nothing stored).</summary>
    public Task ReportProgressAsync(double? progress, string? message, CancellationToken cancellationToken) =>
        _reportProgress(progress, message, cancellationToken);
}
