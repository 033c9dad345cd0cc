namespace Conductor.Workspaces;

/// <summary>A request the workspace cannot serve, with the status and words its problem details carry.</summary>
public class WorkspaceProblemException(int statusCode, string title, string detail) : Exception(detail)
{
    public int StatusCode { get; } = statusCode;
    public string Title { get; } = title;

    public static WorkspaceProblemException NoWorkspace() =>
        new(404, "No workspace", "This room has no workspace; create one with POST /workspace/create.");

    public static WorkspaceProblemException NotReady(string status) =>
        new(409, "Workspace not ready", $"The room's workspace is {status}; files can be used once it is ready.");
}
