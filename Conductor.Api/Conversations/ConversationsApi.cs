using System.Text.RegularExpressions;
using Conductor.Api.Auth;
using Conductor.Api.Rooms;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Conversations;

/// <summary>Agent conversations (Parley) of a room: start, list, watch (SSE), reconfigure a bot, stop, export.</summary>
public static partial class ConversationsApi
{
    public const string StartLimitedCode = "conversation_start_limited";
    public const string EndedCode = "conversation_ended";
    private const int MaxNameChars = 40;
    private const int MaxModelChars = 100;
    /// <summary>How often a stream that is only polling Postgres sends a comment, so proxies keep it open.</summary>
    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);

    public static RouteGroupBuilder MapConversationsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/rooms/{room_id}/conversations").WithTags("Conversations").RequireRoomAccess();
        group.MapPost("", StartAsync).WithName("StartConversation").RequireRoomAccess(write: true);
        group.MapGet("", ListAsync).WithName("ListConversations");
        group.MapGet("/{conversation_id}", GetAsync).WithName("GetConversation");
        group.MapGet("/{conversation_id}/stream", StreamAsync).WithName("StreamConversation")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        group.MapPatch("/{conversation_id}/bots/{index}", UpdateBotAsync).WithName("UpdateConversationBot").RequireRoomAccess(write: true);
        group.MapPost("/{conversation_id}/stop", StopAsync).WithName("StopConversation").RequireRoomAccess(write: true);
        group.MapGet("/{conversation_id}/export.json", ExportJsonAsync).WithName("ExportConversationJson");
        group.MapGet("/{conversation_id}/export.md", ExportMarkdownAsync).WithName("ExportConversationMarkdown")
            .Produces<string>(StatusCodes.Status200OK, contentType: "text/markdown");
        return group;
    }

    internal static async Task<Results<Created<ConversationResponse>, ProblemHttpResult>> StartAsync(RoomScope scope, StartConversationRequest? request,
        HttpContext context, ConversationStore store, ConversationRunner runner, ConversationAgents agents, IOptions<ConversationOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (string.IsNullOrWhiteSpace(request?.Topic))
        {
            return BadRequest("topic is required", "Send {topic, bots:[{name, provider, model?, instructions}], max_turns?}.");
        }
        if (request.Topic.Length > limits.MaxTopicChars)
        {
            return BadRequest("Topic too long", $"topic is limited to {limits.MaxTopicChars} characters.");
        }
        if (request.Bots is not { } requested || requested.Count < 2 || requested.Count > limits.MaxBots)
        {
            return BadRequest("Invalid bots", $"A conversation has between 2 and {limits.MaxBots} bots.");
        }
        var maxTurns = request.MaxTurns ?? limits.DefaultMaxTurns;
        if (maxTurns < 1 || maxTurns > limits.MaxTurns)
        {
            return BadRequest("Invalid max_turns", $"max_turns is between 1 and {limits.MaxTurns}.");
        }
        var bots = new List<ConversationBot>();
        foreach (var (bot, index) in requested.Select((b, i) => (b, i)))
        {
            var (resolved, problem) = Resolve(bot, null, index, agents, limits);
            if (problem is not null)
            {
                return problem;
            }
            bots.Add(resolved!);
        }
        if (bots.Select(b => b.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count() != bots.Count)
        {
            return BadRequest("Invalid bots", "Each bot needs a different name.");
        }

        var userId = context.User.GetUserId();
        var now = time.GetUtcNow();
        // Counted in Postgres so the limit holds across instances; two starts racing may both pass once.
        if (await store.CountStartsAsync(userId, now - limits.StartWindow, cancellationToken) >= limits.StartLimit)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(limits.StartWindow.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiProblems.Create(StatusCodes.Status429TooManyRequests, "Too many conversations started",
                $"At most {limits.StartLimit} conversations can be started per {limits.StartWindow.TotalSeconds:0} seconds.", StartLimitedCode);
        }
        var conversation = new ConversationRecord(Guid.CreateVersion7(), scope.RoomId, userId, request.Topic.Trim(), bots, maxTurns, 0,
            ConversationStatuses.Running, null, now, now, null);
        await store.InsertAsync(conversation, runner.RunnerId, now + limits.LeaseDuration, cancellationToken);
        runner.Start(conversation.Id);
        return TypedResults.Created($"/rooms/{scope.RoomId:D}/conversations/{conversation.Id:D}", ConversationResponse.From(conversation));
    }

    internal static async Task<Ok<ConversationListResponse>> ListAsync(RoomScope scope, int? limit, ConversationStore store, CancellationToken cancellationToken)
    {
        var list = await store.ListAsync(scope.RoomId, Math.Clamp(limit ?? 50, 1, 200), cancellationToken);
        return TypedResults.Ok(new ConversationListResponse(scope.RoomId, list.Select(ConversationResponse.From).ToList()));
    }

    internal static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> GetAsync(RoomScope scope,
        [FromRoute(Name = "conversation_id")] string conversationId, ConversationStore store, CancellationToken cancellationToken)
    {
        var conversation = await FindAsync(scope, conversationId, store, cancellationToken);
        return conversation is null ? NotFound(conversationId) : TypedResults.Ok(ConversationResponse.From(conversation));
    }

    /// <summary>
    /// The conversation as SSE: every stored turn the client lacks (after <c>Last-Event-ID</c>), then the live turn
    /// token by token when this instance runs it (else new turns as they are stored), then <c>done</c>. When the session
    /// that opened it signs out (on any instance) it ends with an <c>error</c> event <c>signed out</c> instead.
    /// </summary>
    internal static async Task<Results<EmptyHttpResult, ProblemHttpResult>> StreamAsync(RoomScope scope,
        [FromRoute(Name = "conversation_id")] string conversationId, [FromQuery(Name = "last_event_id")] string? lastEventIdQuery,
        HttpContext context, ConversationStore store, ConversationRunner runner, ConversationRelay relay, IOptions<ConversationOptions> options,
        IHostApplicationLifetime lifetime, SessionConnections sessions, TimeProvider time)
    {
        var conversation = await FindAsync(scope, conversationId, store, context.RequestAborted);
        if (conversation is null)
        {
            return NotFound(conversationId);
        }
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        // The stream ends when the client goes or the instance shuts down (the client resumes with Last-Event-ID), or
        // when the session signs out.
        using var signedIn = sessions.Track(context.User);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping, signedIn.SignedOut);
        var cancellationToken = stop.Token;
        var lastEventId = context.Request.Headers["Last-Event-ID"].FirstOrDefault() is { Length: > 0 } header ? header : lastEventIdQuery;
        var stream = new ConversationStream(response, lastEventId);
        stream.Resume();
        var lastWrite = time.GetTimestamp();
        try
        {
            await response.StartAsync(cancellationToken);
            while (true)
            {
                var live = runner.Find(conversation.Id);
                // Run here: follow it in memory; run elsewhere (or awaiting take-over): follow it through Redis.
                var relayed = live is null ? await relay.SubscribeAsync(conversation.Id, KeepAliveInterval / 2, cancellationToken) : null;
                var subscription = live?.Subscribe() ?? relayed!.Subscription;
                try
                {
                    // Subscribed first, read second: a turn stored in between is in both, and the stream skips repeats.
                    conversation = (await store.GetAsync(conversation.Id, cancellationToken))!;
                    foreach (var turn in await store.GetTurnsAsync(conversation.Id, stream.Turn, cancellationToken))
                    {
                        await stream.StoredTurnAsync(turn, cancellationToken);
                    }
                    if (conversation.Status != ConversationStatuses.Running)
                    {
                        if (conversation.Error is { } error)
                        {
                            await stream.ErrorAsync(error, cancellationToken);
                        }
                        await stream.DoneAsync(conversation, cancellationToken);
                        return TypedResults.Empty;
                    }
                    await stream.SnapshotAsync(subscription, cancellationToken);
                    var events = 0;
                    await foreach (var e in subscription.Events.ReadAllAsync(cancellationToken))
                    {
                        await stream.EventAsync(e, cancellationToken);
                        events++;
                    }
                    if (live is not null || events > 0)
                    {
                        lastWrite = time.GetTimestamp();
                        continue;
                    }
                    // Nothing relayed for a while (no runner yet, or one that died): keep the connection alive, look again.
                    if (time.GetElapsedTime(lastWrite) >= KeepAliveInterval)
                    {
                        await stream.KeepAliveAsync(cancellationToken);
                        lastWrite = time.GetTimestamp();
                    }
                    await Task.Delay(options.Value.PollInterval, time, cancellationToken);
                }
                finally
                {
                    if (relayed is not null)
                    {
                        await relayed.DisposeAsync();
                    }
                    else
                    {
                        live!.Unsubscribe(subscription);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (signedIn.IsSignedOut && !context.RequestAborted.IsCancellationRequested && response.HasStarted)
            {
                await EndSignedOutAsync(stream, context.RequestAborted);
            }
            return TypedResults.Empty;
        }
    }

    /// <summary>The stream's documented <c>error</c> event says why it ends; no <c>done</c>: the conversation runs on.</summary>
    private static async Task EndSignedOutAsync(ConversationStream stream, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ErrorAsync(SessionConnections.SignedOutCloseReason, cancellationToken);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
        }
    }

    internal static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> UpdateBotAsync(RoomScope scope,
        [FromRoute(Name = "conversation_id")] string conversationId, [FromRoute(Name = "index")] string index, UpdateBotRequest? request,
        ConversationStore store, ConversationAgents agents, IOptions<ConversationOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var conversation = await FindAsync(scope, conversationId, store, cancellationToken);
        if (conversation is null)
        {
            return NotFound(conversationId);
        }
        if (!int.TryParse(index, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var botIndex)
            || botIndex >= conversation.Bots.Count)
        {
            return BadRequest("Invalid bot index", $"index is between 0 and {conversation.Bots.Count - 1}.");
        }
        if (request is null || (request.Instructions is null && request.Model is null && request.Provider is null))
        {
            return BadRequest("Nothing to change", "Send any of {instructions, model, provider}.");
        }
        var current = conversation.Bots[botIndex];
        var (bot, problem) = Resolve(new BotRequest(current.Name, request.Provider ?? current.Provider,
            request.Model ?? (request.Provider is null ? current.Model : null), request.Instructions ?? current.Instructions), current, botIndex, agents, options.Value);
        if (problem is not null)
        {
            return problem;
        }
        if (!await store.UpdateBotAsync(conversation.Id, botIndex, bot!, time.GetUtcNow(), cancellationToken))
        {
            return Ended(conversation.Id);
        }
        return TypedResults.Ok(ConversationResponse.From((await store.GetAsync(conversation.Id, cancellationToken))!));
    }

    internal static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> StopAsync(RoomScope scope,
        [FromRoute(Name = "conversation_id")] string conversationId, ConversationStore store, ConversationRunner runner, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var conversation = await FindAsync(scope, conversationId, store, cancellationToken);
        if (conversation is null)
        {
            return NotFound(conversationId);
        }
        // Ended in Postgres first: the runner (here or on another instance) can then store nothing more.
        if (await store.EndAsync(conversation.Id, ConversationStatuses.Stopped, null, time.GetUtcNow(), cancellationToken))
        {
            runner.End(conversation.Id);
        }
        // Stopping an ended conversation changes nothing and answers its state.
        return TypedResults.Ok(ConversationResponse.From((await store.GetAsync(conversation.Id, cancellationToken))!));
    }

    internal static async Task<Results<Ok<ConversationExport>, ProblemHttpResult>> ExportJsonAsync(RoomScope scope,
        [FromRoute(Name = "conversation_id")] string conversationId, HttpContext context, ConversationStore store, CancellationToken cancellationToken)
    {
        var conversation = await FindAsync(scope, conversationId, store, cancellationToken);
        if (conversation is null)
        {
            return NotFound(conversationId);
        }
        var turns = await store.GetTurnsAsync(conversation.Id, 0, cancellationToken);
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"conversation-{conversation.Id:D}.json\"";
        return TypedResults.Ok(new ConversationExport(ConversationResponse.From(conversation), turns));
    }

    internal static async Task<Results<ContentHttpResult, ProblemHttpResult>> ExportMarkdownAsync(RoomScope scope,
        [FromRoute(Name = "conversation_id")] string conversationId, HttpContext context, ConversationStore store, CancellationToken cancellationToken)
    {
        var conversation = await FindAsync(scope, conversationId, store, cancellationToken);
        if (conversation is null)
        {
            return NotFound(conversationId);
        }
        var turns = await store.GetTurnsAsync(conversation.Id, 0, cancellationToken);
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"conversation-{conversation.Id:D}.md\"";
        return TypedResults.Text(ConversationMarkdown.Render(conversation, turns), "text/markdown; charset=utf-8");
    }

    /// <summary>The conversation if it belongs to the scoped room (the filter has checked membership).</summary>
    private static async Task<ConversationRecord?> FindAsync(RoomScope scope, string conversationId, ConversationStore store, CancellationToken cancellationToken)
    {
        var conversation = Guid.TryParse(conversationId, out var id) ? await store.GetAsync(id, cancellationToken) : null;
        return conversation?.RoomId == scope.RoomId ? conversation : null;
    }

    /// <summary>A bot as requested, validated, with its model resolved (the provider's own when none is named).</summary>
    private static (ConversationBot? Bot, ProblemHttpResult? Problem) Resolve(BotRequest request, ConversationBot? current, int index,
        ConversationAgents agents, ConversationOptions limits)
    {
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameChars)
        {
            return (null, BadRequest("Invalid bot", $"bots[{index}].name is required, at most {MaxNameChars} characters."));
        }
        if (string.IsNullOrWhiteSpace(request.Provider) || agents.Canonical(request.Provider.Trim()) is not { } provider)
        {
            return (null, BadRequest("Unknown provider",
                $"bots[{index}].provider must be one of: {string.Join(", ", agents.ProviderNames)}."));
        }
        var model = string.IsNullOrWhiteSpace(request.Model) ? agents.DefaultModel(provider)! : request.Model.Trim();
        if (model.Length > MaxModelChars || !ModelPattern().IsMatch(model))
        {
            return (null, BadRequest("Invalid model", $"bots[{index}].model is a model name of at most {MaxModelChars} characters."));
        }
        var instructions = request.Instructions ?? current?.Instructions ?? "";
        if (instructions.Length > limits.MaxInstructionsChars)
        {
            return (null, BadRequest("Instructions too long", $"bots[{index}].instructions is limited to {limits.MaxInstructionsChars} characters."));
        }
        return (new ConversationBot(name, provider, model, instructions), null);
    }

    private static ProblemHttpResult BadRequest(string title, string detail) => ApiProblems.Create(StatusCodes.Status400BadRequest, title, detail);

    private static ProblemHttpResult NotFound(string id) => ApiProblems.NotFound("Conversation", id);

    private static ProblemHttpResult Ended(Guid id) => ApiProblems.Create(StatusCodes.Status409Conflict, "The conversation has ended",
        $"Conversation {id:D} is no longer running; its bots cannot change.", EndedCode);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex ModelPattern();
}
