namespace Conductor.Workspaces;

/// <summary>
/// What kind of refusal a <see cref="WorkspaceException"/> is. The library knows nothing of HTTP: the Api maps each
/// kind to a status and a problem-details <c>code</c> (<c>ApiProblems.ForWorkspace</c>).
/// </summary>
public enum WorkspaceErrorKind
{
    /// <summary>The request itself is malformed (a bad path, branch, URL, limit or content).</summary>
    Invalid,
    /// <summary>A file or directory the request names does not exist.</summary>
    NotFound,
    /// <summary>The room has no workspace.</summary>
    NoWorkspace,
    /// <summary>The room's workspace exists but is not ready (creating, failed, deleting).</summary>
    NotReady,
    /// <summary>The request conflicts with what is there (a rename onto an existing file).</summary>
    Conflict,
    /// <summary>An If-Match / If-None-Match condition no longer holds.</summary>
    PreconditionFailed,
    /// <summary>The content is larger than the workspace accepts.</summary>
    TooLarge,
    /// <summary>The answer would be larger than the workspace gives out in one go (a huge listing).</summary>
    TooManyEntries,
}
