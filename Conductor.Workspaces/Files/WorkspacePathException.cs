namespace Conductor.Workspaces.Files;

/// <summary>A client path refused (<see cref="WorkspaceErrorKind.Invalid"/>) or naming nothing (<see cref="WorkspaceErrorKind.NotFound"/>).</summary>
public sealed class WorkspacePathException(WorkspaceErrorKind kind, string title, string detail) : WorkspaceException(kind, title, detail)
{
    public static WorkspacePathException Invalid(string detail) => new(WorkspaceErrorKind.Invalid, "Invalid path", detail);
    public static WorkspacePathException NotFound(string detail) => new(WorkspaceErrorKind.NotFound, "Not found", detail);
}
