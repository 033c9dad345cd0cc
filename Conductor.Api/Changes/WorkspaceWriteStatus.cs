using System.Text;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;

namespace Conductor.Api.Changes;

public enum WorkspaceWriteStatus { Written, PreconditionFailed }
