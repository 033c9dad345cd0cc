namespace Conductor.Api.Files;

/// <summary>The upload went over <see cref="FileOptions.MaxUploadBytes"/>; nothing was stored.</summary>
public sealed class FileTooLargeException(long limit) : Exception($"The file is larger than {limit} bytes.")
{
    public long Limit { get; } = limit;
}
