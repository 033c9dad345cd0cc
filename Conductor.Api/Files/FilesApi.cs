using System.Text;
using System.Text.RegularExpressions;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Conductor.Api.Files;

public static partial class FilesApi
{
    // Multipart framing (boundaries, part headers, the room_id field) on top of the file's own bytes.
    private const long MultipartOverheadBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapFilesApi(this IEndpointRouteBuilder endpoints)
    {
        var files = endpoints.MapGroup("/files").WithTags("Files").RequireAuthorization();
        files.MapPost("/upload", UploadAsync).WithName("UploadFile").DisableAntiforgery()
            .Accepts<IFormFile>("multipart/form-data");
        files.MapGet("/{fileId}", DownloadAsync).WithName("DownloadFile");
        files.MapDelete("/{fileId}", DeleteAsync).WithName("DeleteFile");
        endpoints.MapGroup("/rooms").WithTags("Files")
            .MapGet("/{room_id}/files", ListAsync).WithName("ListRoomFiles").RequireRoomAccess();
        return endpoints;
    }

    internal static async Task<Results<Created<UploadResponse>, ProblemHttpResult>> UploadAsync(HttpContext context, FileStore store,
        IRoomMembership membership, IOptions<FileOptions> options, ILoggerFactory loggers, IServiceProvider services)
    {
        var limits = options.Value;
        var cancellationToken = context.RequestAborted;
        // Kestrel's own cap, as a backstop below our byte count: a body far over the limit is cut off by the server.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = limits.MaxUploadBytes + MultipartOverheadBytes;
        }
        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 and <= 200 } boundary)
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "multipart/form-data expected",
                "Upload with a multipart/form-data body holding the fields 'file' and 'room_id'.");
        }

        var user = context.User;
        var logger = loggers.CreateLogger("Conductor.Api.Files.Upload");
        var reader = new MultipartReader(boundary, context.Request.Body) { HeadersLengthLimit = 16 * 1024 };
        Guid? roomId = null;
        var roomChecked = false;
        FileUpload? upload = null;
        string? filename = null;
        string? contentType = null;
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellationToken)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    return Problem(StatusCodes.Status400BadRequest, "Malformed multipart body", "Every part needs a form-data Content-Disposition.");
                }
                var field = HeaderUtilities.RemoveQuotes(disposition.Name).Value;
                if (field == "room_id" && !disposition.IsFileDisposition())
                {
                    var text = await ReadSmallFieldAsync(section.Body, cancellationToken);
                    if (roomId is not null || !Guid.TryParse(text, out var parsed))
                    {
                        return Problem(StatusCodes.Status400BadRequest, "Invalid room_id", "room_id must be given once, as a UUID.");
                    }
                    roomId = parsed;
                    // When room_id comes first, a non-member is turned away before a byte of the file is read.
                    if (upload is null)
                    {
                        if (await membership.CheckAsync(parsed, user, cancellationToken, write: true) is { } denied)
                        {
                            return denied;
                        }
                        roomChecked = true;
                    }
                }
                else if (field == "file" && disposition.IsFileDisposition())
                {
                    if (upload is not null)
                    {
                        return Problem(StatusCodes.Status400BadRequest, "One file per upload", "The body holds more than one 'file' part.");
                    }
                    filename = SanitizeFilename(HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value);
                    contentType = SanitizeContentType(section.ContentType);
                    upload = await store.BeginUploadAsync(cancellationToken);
                    await upload.CopyFromAsync(section.Body, cancellationToken);
                }
                else
                {
                    return Problem(StatusCodes.Status400BadRequest, "Unexpected form field",
                        $"Only 'file' (a file part) and 'room_id' are accepted; got '{ApiProblems.Truncate(field ?? "")}'.");
                }
            }
            if (roomId is null || upload is null)
            {
                return Problem(StatusCodes.Status400BadRequest, "file and room_id are required",
                    "Send the file in a part named 'file' and the room's id in a field named 'room_id'.");
            }
            if (!roomChecked && await membership.CheckAsync(roomId.Value, user, cancellationToken, write: true) is { } lateDenied)
            {
                return lateDenied; // the streamed bytes are rolled back when the upload is disposed
            }
            var userId = user.GetUserId();
            var (file, deduplicated) = await upload.CompleteAsync(roomId.Value, userId, filename!, contentType!, cancellationToken);
            LogUploaded(logger, file.Id, file.RoomId, file.Size, deduplicated);
            await AnnounceAsync(services, file, userId, user.GetLogin(), logger, cancellationToken);
            return TypedResults.Created($"/files/{file.Id}",
                new UploadResponse(file.Id, deduplicated, file.Filename, file.Size, file.ContentType, file.Sha256));
        }
        catch (FileTooLargeException ex)
        {
            LogTooLarge(logger, roomId, ex.Limit);
            return Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"Files are limited to {ex.Limit} bytes ({ex.Limit / (1024 * 1024)} MB).");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"Files are limited to {limits.MaxUploadBytes} bytes.");
        }
        catch (InvalidDataException ex)
        {
            // MultipartReader's complaints: a missing boundary, oversized part headers, a truncated body.
            return Problem(StatusCodes.Status400BadRequest, "Malformed multipart body", ex.Message);
        }
        finally
        {
            if (upload is not null)
            {
                await upload.DisposeAsync();
            }
        }
    }

    internal static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> DownloadAsync(string fileId, HttpContext context,
        FileStore store, IRoomMembership membership, CancellationToken cancellationToken)
    {
        var file = Guid.TryParse(fileId, out var id) ? await store.GetAsync(id, cancellationToken) : null;
        // Not a member and no such file answer alike, so file ids of other rooms cannot be confirmed.
        if (file is null || await membership.CheckAsync(file.RoomId, context.User, cancellationToken) is not null)
        {
            return NotFound(fileId);
        }
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.CacheControl = "private, no-cache";
        return TypedResults.Stream(store.OpenRead(file), file.ContentType, fileDownloadName: file.Filename,
            lastModified: file.CreatedAt, entityTag: new EntityTagHeaderValue($"\"{file.Sha256}\""), enableRangeProcessing: true);
    }

    internal static async Task<Results<Ok<FileListResponse>, ProblemHttpResult>> ListAsync(RoomScope scope, FileStore store,
        CancellationToken cancellationToken)
    {
        var id = scope.RoomId;
        var files = await store.ListAsync(id, cancellationToken);
        return TypedResults.Ok(new FileListResponse(id, files.Select(FileSummary.From).ToList()));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string fileId, HttpContext context,
        FileStore store, IRoomMembership membership, CancellationToken cancellationToken)
    {
        var file = Guid.TryParse(fileId, out var id) ? await store.GetAsync(id, cancellationToken) : null;
        if (file is null || await membership.DecideAsync(file.RoomId, context.User.GetUserId(), RoomRole.Guest, write: false, cancellationToken) is not null)
        {
            return NotFound(fileId);
        }
        var isUploader = file.UploadedBy == context.User.GetUserId();
        if (await membership.CheckAsync(file.RoomId, context.User, cancellationToken,
                minimum: isUploader ? RoomRole.Guest : RoomRole.Host, write: true) is { } denied)
        {
            return isUploader ? denied : Problem(StatusCodes.Status403Forbidden, "Uploader or host only",
                "Only the member who uploaded the file or the room's host can delete it.");
        }
        await store.DeleteAsync(file.Id, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task AnnounceAsync(IServiceProvider services, StoredFile file, Guid userId, string login, ILogger logger,
        CancellationToken cancellationToken)
    {
        if (services.GetService<IRoomChatPoster>() is not { } chat)
        {
            return;
        }
        try
        {
            await chat.PostFileAsync(file.RoomId, userId, login, new FileChatContent(file.Id, file.Filename, file.Size, file.ContentType), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The file is stored and listed; a missing announcement is not worth failing the upload for.
            LogAnnounceFailed(logger, ex, file.Id, file.RoomId);
        }
    }

    private static async Task<string> ReadSmallFieldAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[129];
        var total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
            if (total == buffer.Length)
            {
                return ""; // longer than any UUID form: invalid
            }
        }
        return Encoding.UTF8.GetString(buffer, 0, total).Trim();
    }

    /// <summary>The name only (no directories), without control characters, at most 255 characters.</summary>
    internal static string SanitizeFilename(string? name)
    {
        var last = (name ?? "").Replace('\\', '/').Split('/').LastOrDefault() ?? "";
        var cleaned = new string(last.Where(c => !char.IsControl(c)).ToArray()).Trim();
        if (cleaned is "" or "." or "..")
        {
            return "file";
        }
        if (cleaned.Length > 255)
        {
            var extension = Path.GetExtension(cleaned);
            cleaned = extension.Length is > 0 and <= 20 ? cleaned[..(255 - extension.Length)] + extension : cleaned[..255];
        }
        return cleaned;
    }

    /// <summary>The declared type when it is a plain type/subtype (parameters dropped), else application/octet-stream.</summary>
    internal static string SanitizeContentType(string? declared) =>
        MediaTypeHeaderValue.TryParse(declared, out var parsed) && MediaType().IsMatch(parsed.MediaType.Value ?? "")
            ? parsed.MediaType.Value!.ToLowerInvariant()
            : "application/octet-stream";

    private static ProblemHttpResult NotFound(string fileId) => ApiProblems.NotFound("File", fileId);

    private static ProblemHttpResult Problem(int status, string title, string detail) => ApiProblems.Create(status, title, detail);

    [GeneratedRegex(@"^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}$", RegexOptions.CultureInvariant)]
    private static partial Regex MediaType();

    [LoggerMessage(Level = LogLevel.Information, Message = "File {FileId} uploaded into room {RoomId}: {Size} bytes, deduplicated {Deduplicated}")]
    private static partial void LogUploaded(ILogger logger, Guid fileId, Guid roomId, long size, bool deduplicated);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upload into room {RoomId} refused: over {Limit} bytes")]
    private static partial void LogTooLarge(ILogger logger, Guid? roomId, long limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "File {FileId} is stored but its chat message in room {RoomId} could not be posted")]
    private static partial void LogAnnounceFailed(ILogger logger, Exception exception, Guid fileId, Guid roomId);
}
