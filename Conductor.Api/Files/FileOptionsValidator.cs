using Microsoft.Extensions.Options;

namespace Conductor.Api.Files;

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
