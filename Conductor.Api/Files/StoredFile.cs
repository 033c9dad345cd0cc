namespace Conductor.Api.Files;

public sealed record StoredFile(Guid Id, Guid RoomId, string Sha256, string Filename, string ContentType, long Size,
    Guid UploadedBy, DateTimeOffset CreatedAt, Guid BlobId, int ChunkSize);
