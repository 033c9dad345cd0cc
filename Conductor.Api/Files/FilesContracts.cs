namespace Conductor.Api.Files;

public sealed record UploadResponse(Guid FileId, bool Deduplicated, string Filename, long Size, string ContentType, string Sha256);

public sealed record FileSummary(Guid FileId, Guid RoomId, string Filename, long Size, string ContentType, string Sha256,
    Guid UploadedBy, DateTimeOffset CreatedAt)
{
    public static FileSummary From(StoredFile file) =>
        new(file.Id, file.RoomId, file.Filename, file.Size, file.ContentType, file.Sha256, file.UploadedBy, file.CreatedAt);
}

public sealed record FileListResponse(Guid RoomId, IReadOnlyList<FileSummary> Files);
