namespace Conductor.Api.Sandbox;

/// <summary>What to run in a room's sandbox.</summary>
/// <param name="Worktree">The room's worktree on the host: bound writable at <see cref="SandboxLauncher.WorkspacePath"/>.</param>
/// <param name="Argv">The program and its arguments (never a shell string).</param>
/// <param name="Network">Share the host's network (the room's host allowed it); otherwise only a loopback of its own.</param>
/// <param name="MergeStderr">Send stderr into stdout inside the sandbox, so the two arrive interleaved in the order written.</param>
public sealed record SandboxSpec(string Worktree, IReadOnlyList<string> Argv, bool Network, bool MergeStderr, IReadOnlyDictionary<string, string>? Environment = null);
