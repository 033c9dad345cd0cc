using System.Threading.RateLimiting;
using Conductor.Api.Rooms;
using Conductor.Workspaces;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.RateLimiting;

namespace Conductor.Api;

/// <summary>
/// The Api's one problem-details vocabulary for ids and room access: the same title, status and <c>code</c> extension
/// whichever feature answers, so clients branch on <c>code</c> and never on a feature's wording.
/// </summary>
public static class ApiProblems
{
    public const string MalformedIdCode = "malformed_id";
    /// <summary>The chat protocol's code for a non-member since its first version; every feature now uses it.</summary>
    public const string NotInRoomCode = "not_in_room";
    public const string HostOnlyCode = "host_only";
    public const string RoomEndedCode = "room_ended";
    public const string NotFoundCode = "not_found";
    public const string RateLimitedCode = "rate_limited";

    /// <summary>400 for an id that is not a UUID: it names nothing, so saying so reveals nothing.</summary>
    public static ProblemHttpResult MalformedId(string parameter, string? value) =>
        Create(StatusCodes.Status400BadRequest, $"Malformed {parameter.Replace('_', ' ')}", $"{parameter} '{Truncate(value ?? "")}' is not a UUID.",
            MalformedIdCode);

    public static ProblemHttpResult NotAMember() =>
        Create(StatusCodes.Status403Forbidden, "Not a member of this room", "Only members of the room can use its resources.", NotInRoomCode);

    public static ProblemHttpResult HostOnly() =>
        Create(StatusCodes.Status403Forbidden, "Host only", "Only the room's host can do this.", HostOnlyCode);

    public static ProblemHttpResult RoomEnded() =>
        Create(StatusCodes.Status403Forbidden, "The session has ended", "The room is read-only since its host ended the session.", RoomEndedCode);

    /// <summary>
    /// 404 for a resource addressed by its own id (a file, a change set, a job) that is missing or in a room the
    /// caller is not in: both answer alike, so ids of other rooms cannot be confirmed.
    /// </summary>
    public static ProblemHttpResult NotFound(string resource, string id) =>
        Create(StatusCodes.Status404NotFound, $"{resource} not found", $"There is no {resource.ToLowerInvariant()} '{Truncate(id)}' in a room you belong to.",
            NotFoundCode);

    /// <summary>The 403 for a refused room access decision.</summary>
    public static ProblemHttpResult For(RoomAccessDenial denial) => denial switch
    {
        RoomAccessDenial.NotAMember => NotAMember(),
        RoomAccessDenial.HostOnly => HostOnly(),
        RoomAccessDenial.Ended => RoomEnded(),
        _ => throw new ArgumentOutOfRangeException(nameof(denial), denial, null),
    };

    /// <summary>
    /// A refusal of the workspace library (which knows no HTTP) as problem details: its kind decides the status and
    /// the <c>code</c>, its title and message are the words shown.
    /// </summary>
    public static ProblemHttpResult ForWorkspace(WorkspaceException exception)
    {
        var (status, code) = exception.Kind switch
        {
            WorkspaceErrorKind.Invalid => (StatusCodes.Status400BadRequest, "invalid_request"),
            WorkspaceErrorKind.NotFound => (StatusCodes.Status404NotFound, NotFoundCode),
            WorkspaceErrorKind.NoWorkspace => (StatusCodes.Status404NotFound, "no_workspace"),
            WorkspaceErrorKind.NotReady => (StatusCodes.Status409Conflict, "workspace_not_ready"),
            WorkspaceErrorKind.Conflict => (StatusCodes.Status409Conflict, "conflict"),
            WorkspaceErrorKind.PreconditionFailed => (StatusCodes.Status412PreconditionFailed, "precondition_failed"),
            WorkspaceErrorKind.TooLarge => (StatusCodes.Status413PayloadTooLarge, "too_large"),
            WorkspaceErrorKind.TooManyEntries => (StatusCodes.Status422UnprocessableEntity, "too_many_entries"),
            _ => throw new ArgumentOutOfRangeException(nameof(exception), exception.Kind, "A workspace error kind without a status."),
        };
        return Create(status, exception.Title, exception.Message, code);
    }

    /// <summary>Any other problem, with an optional <c>code</c> for clients that branch on it and any further members.</summary>
    public static ProblemHttpResult Create(int status, string title, string detail, string? code = null,
        IEnumerable<KeyValuePair<string, object?>>? extensions = null)
    {
        var members = new Dictionary<string, object?>(extensions ?? []);
        if (code is not null)
        {
            members["code"] = code;
        }
        return TypedResults.Problem(statusCode: status, title: title, detail: detail, extensions: members.Count == 0 ? null : members);
    }

    /// <summary>
    /// A rate limiter's refusal (an <c>OnRejected</c> callback): 429 with <c>Retry-After</c> when the limiter knows it, as
    /// problem details with the <c>rate_limited</c> code. The one way every rate-limited route answers.
    /// </summary>
    public static async ValueTask WriteRateLimitedAsync(OnRejectedContext context, string title, string detail)
    {
        var http = context.HttpContext;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        // The Redis-backed limiters (RedisRateLimiting) name it their own way, in whole seconds.
        else if (context.Lease.TryGetMetadata(RedisRateLimiting.RateLimitMetadataName.RetryAfter, out var seconds))
        {
            http.Response.Headers.RetryAfter = Math.Max(1, seconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = title,
                Detail = detail,
                Extensions = { ["code"] = RateLimitedCode },
            },
        });
    }

    public static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
