namespace Conductor.Workspaces.Git;

/// <summary>A token for a remote, held in memory only. <see cref="ToString"/> never shows it.</summary>
public sealed class GitCredential(string secret)
{
    internal string Secret { get; } = string.IsNullOrEmpty(secret) ? throw new ArgumentException("The token is empty.", nameof(secret)) : secret;

    public override string ToString() => "GitCredential(***)";
}
