using System.ComponentModel.DataAnnotations;

namespace Conductor.Api.GitRemote;

/// <summary>Settings of the rooms' git remote (<c>GitRemote</c> section).</summary>
public sealed class GitRemoteOptions
{
    public const string SectionName = "GitRemote";

    /// <summary>The largest push (request body) accepted, in bytes.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxPushBytes { get; set; } = 1L << 30;

    /// <summary>The largest fetch negotiation (request body) accepted, in bytes.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxFetchRequestBytes { get; set; } = 16L << 20;

    /// <summary>A git request running longer than this is stopped.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);
}
