namespace Conductor.Workspaces;

/// <summary>A request the workspace cannot serve: its kind (mapped to a status at the Api's edge) and the words to show.</summary>
public class WorkspaceException(WorkspaceErrorKind kind, string title, string detail) : Exception(detail)
{
    public WorkspaceErrorKind Kind { get; } = kind;
    public string Title { get; } = title;

    public static WorkspaceException NoWorkspace() =>
        new(WorkspaceErrorKind.NoWorkspace, "No workspace", "This room has no workspace; create one with POST /workspace/create.");

    public static WorkspaceException NotReady(string status) =>
        new(WorkspaceErrorKind.NotReady, "Workspace not ready", $"The room's workspace is {status}; files can be used once it is ready.");

    public static WorkspaceException Invalid(string title, string detail) => new(WorkspaceErrorKind.Invalid, title, detail);
}
