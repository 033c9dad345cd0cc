using System.Text.Json;
using Conductor.Jobs;
using Conductor.Workspaces;

namespace Conductor.GitWorker.Workspaces;

/// <summary>workspace.create: clone or fetch the shared store, add the room's worktree, report clone progress.</summary>
internal sealed class WorkspaceCreateHandler(WorkspaceProvisioner provisioner) : IJobHandler
{
    public string Kind => WorkspaceJobKinds.Create;

    public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var head = await provisioner.CreateAsync(context.RoomId,
            (fraction, message) => context.ReportProgressAsync(fraction, message, cancellationToken),
            lastAttempt: context.Attempt >= context.MaxAttempts, cancellationToken);
        return JsonSerializer.SerializeToElement(new { status = WorkspaceStatus.Ready, head_commit = head });
    }
}

/// <summary>workspace.commit: stage all, commit as the requesting user, push the session branch.</summary>
internal sealed class WorkspaceCommitHandler(WorkspaceProvisioner provisioner) : IJobHandler
{
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string Kind => WorkspaceJobKinds.Commit;

    public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<CommitJobPayload>();
        var outcome = await provisioner.CommitAsync(context.RoomId, payload, cancellationToken);
        return JsonSerializer.SerializeToElement(outcome, SnakeCase);
    }
}

/// <summary>workspace.delete: remove the worktree and the session branch, then the record.</summary>
internal sealed class WorkspaceDeleteHandler(WorkspaceProvisioner provisioner) : IJobHandler
{
    public string Kind => WorkspaceJobKinds.Delete;

    public async Task<JsonElement?> HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        await provisioner.DeleteAsync(context.RoomId, cancellationToken);
        return JsonSerializer.SerializeToElement(new { deleted = true });
    }
}
