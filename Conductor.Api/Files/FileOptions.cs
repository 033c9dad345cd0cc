using Microsoft.Extensions.Options;

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

internal sealed class FileOptionsValidator : IValidateOptions<FileOptions>
{
    public ValidateOptionsResult Validate(string? name, FileOptions options)
    {
        var failures = new List<string>();
        if (options.MaxUploadBytes is < 1 or > 1024L * 1024 * 1024)
        {
            failures.Add("Files:MaxUploadBytes must be between 1 byte and 1 GB.");
        }
        if (options.ChunkBytes is < 4096 or > 8 * 1024 * 1024)
        {
            failures.Add("Files:ChunkBytes must be between 4 KB and 8 MB.");
        }
        if (options.MaxListed is < 1 or > 10_000)
        {
            failures.Add("Files:MaxListed must be between 1 and 10000.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>The content of a <c>file</c> chat message, as the chat service stores it.</summary>
public sealed record FileChatContent(Guid FileId, string Name, long Size, string ContentType);

/// <summary>
/// Posts the <c>file</c> message an upload announces itself with (<see cref="ChatRoomChatPoster"/>: through the chat service).
/// </summary>
public interface IRoomChatPoster
{
    Task PostFileAsync(Guid roomId, Guid userId, string login, FileChatContent content, CancellationToken cancellationToken);
}
