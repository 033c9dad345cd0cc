namespace Conductor.Api.Files;

/// <summary><c>Files:</c> configuration.</summary>
public sealed class FileOptions
{
    public const string Section = "Files";

    /// <summary>Largest upload accepted, in bytes (20 MB). One byte more and the upload is refused with 413 while streaming.</summary>
    public long MaxUploadBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary>Size of the rows the bytes are stored in; also the unit range reads fetch.</summary>
    public int ChunkBytes { get; set; } = 256 * 1024;

    /// <summary>Most files one listing returns (newest first).</summary>
    public int MaxListed { get; set; } = 500;
}
