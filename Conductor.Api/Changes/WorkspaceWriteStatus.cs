namespace Conductor.Api.Changes;

public enum WorkspaceWriteStatus { Written, PreconditionFailed }
