using System.IO.Compression;
using Conductor.Api.Audit;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using Conductor.Api.Workspaces;
using Conductor.Workspaces;
using Conductor.Workspaces.GitRemote;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Conductor.Api.GitRemote;

/// <summary>
/// Each room's repository as a git remote over smart HTTP: <c>/git/{room_id}.git</c> (Model B: the user's git host
/// credentials never leave their machine). git authenticates with HTTP Basic, a Conductor access token as the
/// password; members fetch; the host, and members the host allows, push to the room's session branches only. A push
/// into a room without a workspace (by its host) creates the room's repository. git's own <c>http-backend</c> serves
/// the protocol (v0, v1 and v2, shallow and partial fetches); every decision is taken here before it runs.
/// </summary>
public static partial class GitRemoteApi
{
    public const string Realm = "Conductor";

    public static IEndpointConventionBuilder MapGitRemote(this IEndpointRouteBuilder endpoints) =>
        // Not a JSON API (and not in the OpenAPI document): git speaks to it, with Basic credentials checked below.
        endpoints.Map("/git/{room_id}.git/{**path}", HandleAsync).AllowAnonymous().ExcludeFromDescription().WithName("GitRemote");

    private enum Service { UploadPack, ReceivePack }

    private static async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var request = context.Request;
        var cancellationToken = context.RequestAborted;
        var path = (string?)request.RouteValues["path"] ?? "";
        if (!Guid.TryParse((string?)request.RouteValues["room_id"], out var roomId))
        {
            await TextAsync(context, 404, "No such repository.");
            return;
        }
        Service? service = (request.Method, path) switch
        {
            ("GET", "info/refs") => request.Query["service"].ToString() switch
            {
                "git-upload-pack" => Service.UploadPack,
                "git-receive-pack" => Service.ReceivePack,
                _ => null,
            },
            ("POST", "git-upload-pack") => Service.UploadPack,
            ("POST", "git-receive-pack") => Service.ReceivePack,
            _ => null,
        };
        if (service is null)
        {
            await TextAsync(context, 404, "Conductor serves git's smart HTTP protocol only (git 1.6.6 or later).");
            return;
        }
        var user = services.GetRequiredService<GitCredentialCheck>().Authenticate(request.Headers.Authorization);
        if (user is null)
        {
            context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{Realm}\", charset=\"UTF-8\"";
            await TextAsync(context, 401, "Sign in with your Conductor token as the password (conductor login sets up git's credential helper).");
            return;
        }
        var membership = services.GetRequiredService<IRoomMembership>();
        var userId = user.GetUserId();
        var role = await membership.GetRoleAsync(roomId, userId, cancellationToken);
        if (role is null)
        {
            await TextAsync(context, 403, "Only members of the room can use its repository.");
            return;
        }
        var push = service == Service.ReceivePack;
        if (push)
        {
            if (await membership.IsEndedAsync(roomId, cancellationToken))
            {
                await TextAsync(context, 403, "The session has ended: the room's repository is read-only.");
                return;
            }
            if (role != RoomRole.Host && !await services.GetRequiredService<GitPushAccess>().IsGrantedAsync(roomId, userId, cancellationToken))
            {
                await TextAsync(context, 403, "Only the room's host, and members the host allows, may push to the room.");
                return;
            }
        }

        var repository = services.GetRequiredService<WorkspaceRepository>();
        var workspace = await repository.GetAsync(roomId, cancellationToken);
        if (push && role == RoomRole.Host && workspace is null or { Status: WorkspaceStatus.Failed })
        {
            // A room made from a push: an empty repository of its own, ready once the session branch arrives.
            workspace = await services.GetRequiredService<PushedRoom>().PrepareAsync(roomId, userId, cancellationToken);
        }
        if (workspace is null)
        {
            await TextAsync(context, 404, "The room has no repository yet: its host pushes one (conductor up) or creates a workspace.");
            return;
        }
        var acceptsFirstPush = push && workspace is { Status: WorkspaceStatus.Creating, RepoUrl: PushedRoom.RepoUrl };
        if (workspace.Status != WorkspaceStatus.Ready && !acceptsFirstPush)
        {
            await TextAsync(context, 409, $"The room's repository is {workspace.Status}; try again when it is ready.");
            return;
        }

        var options = services.GetRequiredService<IOptions<WorkspaceOptions>>().Value;
        var gitOptions = services.GetRequiredService<IOptions<GitRemoteOptions>>().Value;
        var store = Path.Combine(options.StoresPath, workspace.StoreId + ".git");
        var before = RoomRefs.Read(store, roomId);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = push ? gitOptions.MaxPushBytes : gitOptions.MaxFetchRequestBytes;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(gitOptions.Timeout);

        // The protocol git will speak, as git's server reads the header (the highest version=N), passed on in one form
        // so that what is checked below is what upload-pack runs.
        var version = UploadPackRequest.ProtocolVersion(request.Headers["Git-Protocol"].ToString());
        var backend = new GitBackendRequest(options.StoresPath, $"/{workspace.StoreId}.git/{path}", request.Method, request.QueryString.Value?.TrimStart('?') ?? "",
            request.ContentType, request.Headers.ContentEncoding.FirstOrDefault(), version > 0 ? $"version={version}" : null, user.GetLogin(),
            context.Connection.RemoteIpAddress?.ToString(), Config(roomId, before, push, [], null), [], request.Method == "POST" ? request.Body : null);
        var runner = services.GetRequiredService<GitHttpBackend>();
        if (!push && request.Method == "POST")
        {
            // The fetch request is read and decided here, then git gets exactly what was decided (decompressed, nothing
            // after it). Protocol v2's fetch sends whatever object is named, hidden refs or not, and the store holds
            // other rooms' commits too: every want must be reachable from this room's refs. (v0 and v1 upload-pack
            // refuse any want that is not an advertised tip, and only the room's refs are advertised.) In every
            // version upload-pack acknowledges each have the store holds: only those the room reaches are passed on.
            var fetchBody = IsGzip(request) ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
            UploadPackRequest? fetch;
            try
            {
                fetch = await UploadPackRequest.ReadAsync(fetchBody, version, gitOptions.MaxFetchRequestBytes, timeout.Token);
            }
            catch (InvalidDataException)
            {
                fetch = null; // a body that says gzip and is not
            }
            if (fetch is null)
            {
                await TextAsync(context, 400, "The fetch request is not one Conductor accepts.");
                return;
            }
            var refusal = fetch.NamedCommits.Count > UploadPackRequest.MaxNamedCommits
                ? $"upload-pack: the request names {fetch.NamedCommits.Count} have and shallow commits, more than the {UploadPackRequest.MaxNamedCommits} examined"
                : version == 2 ? await FetchRefusalAsync(services, store, before.Values, fetch, timeout.Token) : null;
            if (refusal is not null)
            {
                LogFetchRefused(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GitRemoteApi)), user.GetLogin(), roomId, refusal);
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-git-upload-pack-result";
                context.Response.Headers.CacheControl = "no-cache";
                await context.Response.Body.WriteAsync(UploadPackRequest.Error("Conductor: " + refusal), timeout.Token);
                return;
            }
            var keep = await services.GetRequiredService<RoomReachability>().ReachableCommitsAsync(store, [.. before.Values], fetch.NamedCommits, timeout.Token);
            if (fetch.NamedCommits.Count > 0)
            {
                LogNegotiation(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GitRemoteApi)), user.GetLogin(), roomId,
                    fetch.NamedCommits.Count(keep.Contains), fetch.NamedCommits.Count);
            }
            backend = backend with { BodyPrefix = fetch.Without(keep), Body = null, ContentEncoding = null };
        }
        if (!(push && request.Method == "POST"))
        {
            await runner.RunAsync(backend, context.Response, timeout.Token);
            return;
        }

        // A push: the ref updates are read and decided here, then git gets them and the pack that follows.
        var body = IsGzip(request) ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
        var commands = await ReceivePackCommands.ReadAsync(body, timeout.Token);
        if (commands is null)
        {
            await TextAsync(context, 400, "The push's command list is not one Conductor accepts (push certificates are not supported).");
            return;
        }
        var audit = services.GetRequiredService<AuditLog>();
        var events = services.GetRequiredService<WorkspaceSyncEvents>();
        var access = services.GetRequiredService<GitPushAccess>();
        var reasons = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var update in commands.Updates)
        {
            if (await RefusalReasonAsync(access, roomId, user.GetLogin(), update, timeout.Token) is { } reason)
            {
                reasons[update.Ref] = reason;
            }
        }
        var refused = commands.Updates.Where(u => reasons.ContainsKey(u.Ref)).ToList();
        if (refused.Count > 0)
        {
            var message = $"push refused as a whole: {string.Join("; ", refused.Select(r => $"{r.Ref}: {reasons[r.Ref]}"))}. This room accepts pushes to "
                + $"session/{roomId:D} and topic branches session/{roomId:D}-<name>, not to another member's own branch";
            await audit.AppendAsync(roomId, userId, AuditActions.PushRefused, "server", null, null, string.Join(" ", refused.Select(r => r.Ref)), message, CancellationToken.None);
            await body.CopyToAsync(Stream.Null, timeout.Token); // the client sends its pack before it reads the answer
            if (!commands.WantsReport)
            {
                await TextAsync(context, 403, "Conductor: " + message);
                return;
            }
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-git-receive-pack-result";
            context.Response.Headers.CacheControl = "no-cache";
            await context.Response.Body.WriteAsync(commands.Refusal(message, u => reasons.TryGetValue(u.Ref, out var r) ? "refused by Conductor: " + r : null), timeout.Token);
            return;
        }

        var locks = services.GetRequiredService<WorkspaceLocks>();
        backend = backend with
        {
            Config = Config(roomId, before, push, commands.Updates.Select(u => u.Ref), ReceiveObjectCheck.EnsureInstalled(options.ScratchPath)),
            BodyPrefix = commands.Raw,
            Body = body,
            ContentEncoding = null, // decompressed above
        };
        // The room lock: a push that moves a checked-out branch updates that worktree (updateInstead), which must not
        // interleave with file writes, a commit or a sync.
        await using (await locks.LockRoomAsync(roomId, timeout.Token))
        {
            await runner.RunAsync(backend, context.Response, timeout.Token);
        }
        var after = RoomRefs.Read(store, roomId);
        var changed = after.Where(kv => !before.TryGetValue(kv.Key, out var old) || old != kv.Value).Select(kv => kv.Key)
            .Concat(before.Keys.Where(k => !after.ContainsKey(k))).Order(StringComparer.Ordinal).ToList();
        if (changed.Count == 0)
        {
            return;
        }
        var pushedRoom = services.GetRequiredService<PushedRoom>();
        var head = await pushedRoom.CompleteAsync(roomId, CancellationToken.None);
        var roomRef = RoomRefs.RoomBranchRef(roomId);
        if (head is null && after.TryGetValue(roomRef, out var tip) && changed.Contains(roomRef))
        {
            await repository.SetStatusAsync(roomId, WorkspaceStatus.Ready, null, tip, [WorkspaceStatus.Ready], CancellationToken.None);
        }
        var detail = string.Join(", ", changed.Select(r => $"{r} {Short(before.GetValueOrDefault(r))} -> {Short(after.GetValueOrDefault(r))}"));
        await audit.AppendAsync(roomId, userId, AuditActions.Pushed, "server", null, null, string.Join(" ", changed), detail, CancellationToken.None);
        await events.PublishAsync(roomId, userId, user.GetLogin(), AuditActions.Pushed, head is null ? "updated" : "created", after.GetValueOrDefault(roomRef), 0,
            string.Join(" ", changed), CancellationToken.None);
        LogPushed(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GitRemoteApi)), user.GetLogin(), roomId, detail);
    }

    /// <summary>git's client gzips larger request bodies (<c>Content-Encoding: gzip</c>); http-backend takes <c>x-gzip</c> too.</summary>
    private static bool IsGzip(HttpRequest request) => request.Headers.ContentEncoding.ToString() is "gzip" or "x-gzip";

    private static string Short(string? id) => id is null ? "(none)" : id[..12];

    private static async Task<string?> RefusalReasonAsync(GitPushAccess access, Guid roomId, string login, RefUpdate update, CancellationToken cancellationToken)
    {
        if (!RoomRefs.IsRoomRef(roomId, update.Ref))
        {
            return $"only session/{roomId:D} and session/{roomId:D}-<name> may be pushed";
        }
        if (update.IsDelete && update.Ref == RoomRefs.RoomBranchRef(roomId))
        {
            return "the room's branch cannot be deleted";
        }
        // A member's own worktree is theirs alone: nobody else, the host included, writes (or deletes) its branch.
        return await access.PersonalBranchOwnerAsync(roomId, update.Ref, cancellationToken) is { } owner && !string.Equals(owner, login, StringComparison.OrdinalIgnoreCase)
            ? $"it is {owner}'s own branch"
            : null;
    }

    /// <summary>Why a protocol v2 request may not run, or null: only ls-refs and fetch, wants reachable from the room's refs.</summary>
    private static async Task<string?> FetchRefusalAsync(IServiceProvider services, string store, IEnumerable<string> tips, UploadPackRequest fetch,
        CancellationToken cancellationToken)
    {
        if (fetch.Command is not ("ls-refs" or "fetch"))
        {
            return $"the command '{fetch.Command}' is not served";
        }
        if (fetch.WantRefs.Count > 0)
        {
            return "want-ref is not served; fetch the room's branches by name";
        }
        var unreachable = await services.GetRequiredService<RoomReachability>().UnreachableAsync(store, [.. tips], fetch.Wants, cancellationToken);
        // The same words for an object that is missing and one that belongs elsewhere: the answer tells nothing about
        // other rooms.
        return unreachable.Count > 0 ? $"upload-pack: not our ref {unreachable[0]} (only objects reachable from this room's branches are served)" : null;
    }

    /// <summary>
    /// git settings for one run. Only the room's refs are visible (stores are shared by rooms on one remote): everything
    /// is hidden, then the room's refs are shown again, including the ones this push creates.
    /// </summary>
    /// <remarks>
    /// A push runs <see cref="ReceiveObjectCheck"/>'s pre-receive hook from <paramref name="hooksPath"/>, given the
    /// room's tips as <c>conductor.tip</c>; everything else runs with no hooks.
    /// </remarks>
    private static List<KeyValuePair<string, string>> Config(Guid roomId, IReadOnlyDictionary<string, string> roomRefs, bool push, IEnumerable<string> pushing,
        string? hooksPath)
    {
        var hide = push ? "receive.hideRefs" : "uploadpack.hideRefs";
        var config = new List<KeyValuePair<string, string>>
        {
            new(hide, "refs/"),
            new(hide, "HEAD"),
            new(hide, "!" + RoomRefs.RoomBranchRef(roomId)),
        };
        foreach (var reference in roomRefs.Keys.Concat(pushing).Distinct(StringComparer.Ordinal))
        {
            config.Add(new(hide, "!" + reference));
        }
        config.AddRange(
        [
            new("http.uploadpack", "true"),
            new("http.receivepack", push ? "true" : "false"),
            // A pushed branch that is checked out (the room's worktree, a member's) is updated in place when that
            // worktree is clean, and the push is refused when it has uncommitted edits: nothing is overwritten.
            new("receive.denyCurrentBranch", "updateInstead"),
            new("receive.fsckObjects", "true"),
            new("receive.autogc", "false"),
            new("gc.auto", "0"),
            new("core.hooksPath", hooksPath ?? "/dev/null"),
            new("uploadpack.allowFilter", "true"),
            new("uploadpack.allowAnySHA1InWant", "false"),
            new("uploadpack.allowReachableSHA1InWant", "false"),
            new("uploadpack.allowTipSHA1InWant", "false"),
            new("safe.directory", "*"),
        ]);
        if (hooksPath is not null)
        {
            foreach (var tip in roomRefs.Values.Distinct(StringComparer.Ordinal))
            {
                config.Add(new("conductor.tip", tip));
            }
        }
        return config;
    }

    private static async Task TextAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(message + "\n", context.RequestAborted);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a fetch by {Login} from room {RoomId}: {Reason}")]
    private static partial void LogFetchRefused(ILogger logger, string login, Guid roomId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A fetch by {Login} from room {RoomId}: {Kept} of its {Named} have and shallow lines reach the room's refs and were passed on")]
    private static partial void LogNegotiation(ILogger logger, string login, Guid roomId, int kept, int named);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Login} pushed to room {RoomId}: {Detail}")]
    private static partial void LogPushed(ILogger logger, string login, Guid roomId, string detail);
}
