using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Conductor.Api.Ai;
using Conductor.Api.Chat;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using StackExchange.Redis;

namespace Conductor.Api.AiChat;

/// <summary>
/// Answers chat messages that mention an assistant (<c>@ai</c>): streams the asker's provider's answer to every member
/// as typed frames on the room's chat channel, lets the model call read-only workspace tools through Semantic Kernel
/// function calling, and stores the answer as a chat message (kind <c>ai</c>) when it completes or is stopped.
/// An answer runs on the instance that stored the question; a stop reaches it through Redis from any instance.
/// </summary>
public sealed partial class AiChatResponder(
    IServiceScopeFactory scopes,
    AiSelections selections,
    ChatStore store,
    ChatRateLimiter rateLimiter,
    WorkspaceFileService files,
    CodeSearch search,
    IConnectionMultiplexer redis,
    IOptions<AiChatOptions> options,
    IOptions<AiOptions> aiOptions,
    IOptions<ChatOptions> chatOptions,
    IOptions<WorkspaceOptions> workspaceOptions,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<AiChatResponder> logger) : IHostedService
{
    /// <summary>Every instance listens here for stop requests; the one running the answer cancels it.</summary>
    public static readonly RedisChannel StopChannel = RedisChannel.Literal("ai:chat:stop");

    private readonly ConcurrentDictionary<Guid, Running> _running = new();
    private ChannelMessageQueue? _stops;

    private sealed class Running(Guid roomId, CancellationTokenSource cancellation)
    {
        public Guid RoomId { get; } = roomId;
        public CancellationTokenSource Cancellation { get; } = cancellation;
        public Guid? StoppedBy { get; set; }
    }

    private AiChatOptions Options => options.Value;

    /// <summary>The assistant a text message mentions, or null.</summary>
    public string? MentionIn(string kind, JsonElement content) =>
        kind == ChatKinds.Text && content.ValueKind == JsonValueKind.String ? AiMentions.Find(content.GetString()!, Options.Assistants) : null;

    /// <summary>Takes one answer from the asker's AI bucket, or throws <c>rate_limited</c> before anything is stored.</summary>
    public Task TakeAnswerTokenAsync(Guid userId, CancellationToken cancellationToken) =>
        rateLimiter.TakeAsync("ai", Options.AnswerBurst, Options.AnswersPerMinute / 60, userId, "AI answer", cancellationToken);

    /// <summary>Starts answering <paramref name="question"/> in the background; returns the id the answer will have.</summary>
    public Guid Start(ChatMessage question, ChatCaller asker, string assistant)
    {
        var answerId = Guid.CreateVersion7();
        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        cancellation.CancelAfter(Options.AnswerTimeout);
        var running = new Running(question.RoomId, cancellation);
        _running[answerId] = running;
        _ = Task.Run(async () =>
        {
            try
            {
                await AnswerAsync(answerId, question, asker, assistant, running);
            }
            catch (Exception ex)
            {
                LogAnswerCrashed(logger, ex, answerId, question.RoomId);
            }
            finally
            {
                _running.TryRemove(answerId, out _);
                cancellation.Dispose();
            }
        }, CancellationToken.None);
        return answerId;
    }

    /// <summary>
    /// Stops a running answer, whichever instance runs it. A member of the room may stop any answer in it; an id
    /// that is not a running answer of this room is <c>not_found</c> (the same for another room's answer).
    /// </summary>
    public async Task StopAnswerAsync(ChatCaller caller, Guid roomId, Guid messageId, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var owner = await db.StringGetAsync(RunningKey(messageId)).WaitAsync(cancellationToken);
        if (owner.IsNull || owner.ToString() != roomId.ToString("D"))
        {
            throw new ChatException(ChatErrors.NotFound, "There is no running AI answer with this id in the room.", StatusCodes.Status404NotFound);
        }
        if (!TryStopLocal(messageId, caller.UserId))
        {
            await redis.GetSubscriber().PublishAsync(StopChannel,
                JsonSerializer.SerializeToUtf8Bytes(new StopRequest(messageId, caller.UserId), ChatJson.Options)).WaitAsync(cancellationToken);
        }
        LogStopRequested(logger, messageId, roomId, caller.UserId);
    }

    private sealed record StopRequest(Guid MessageId, Guid UserId);

    private bool TryStopLocal(Guid messageId, Guid userId)
    {
        if (!_running.TryGetValue(messageId, out var running))
        {
            return false;
        }
        running.StoppedBy ??= userId;
        try
        {
            running.Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It just finished.
        }
        return true;
    }

    private async Task AnswerAsync(Guid answerId, ChatMessage question, ChatCaller asker, string assistant, Running running)
    {
        var roomId = question.RoomId;
        var cancellationToken = running.Cancellation.Token;
        var login = Options.Assistants[0];
        var db = redis.GetDatabase();
        // Independent round trips overlap: they are all on the way to the first token.
        var registered = db.StringSetAsync(RunningKey(answerId), roomId.ToString("D"), Options.AnswerTimeout + TimeSpan.FromMinutes(1));
        var prepared = PrepareAsync(answerId, question, assistant, cancellationToken);
        var provider = await selections.GetActiveAsync(asker.UserId, lifetime.ApplicationStopping);
        await registered;
        await PublishAsync(roomId, new AiStartFrame(roomId, answerId, question.Id, login, provider.Name, asker.UserId, time.GetUtcNow().UtcDateTime));
        LogAnswerStarted(logger, answerId, roomId, provider.Name, asker.UserId);

        var text = new StringBuilder();
        var status = AiAnswerStatus.Completed;
        string? error = null;
        var index = 0;
        try
        {
            var (history, kernel) = await prepared;
            var settings = provider.CreateSettings(aiOptions.Value.MaxOutputTokens,
                functions: kernel is null ? null : FunctionChoiceBehavior.Auto());
            await foreach (var update in provider.ChatCompletion.GetStreamingChatMessageContentsAsync(history, settings, kernel, cancellationToken))
            {
                if (update.Content is not { Length: > 0 } piece)
                {
                    continue;
                }
                text.Append(piece);
                await PublishAsync(roomId, new AiTokenFrame(roomId, answerId, index++, piece));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            status = AiAnswerStatus.Stopped;
            error = running.StoppedBy is null ? (lifetime.ApplicationStopping.IsCancellationRequested ? "the server is shutting down" : "the answer took too long") : null;
        }
        catch (Exception ex)
        {
            status = AiAnswerStatus.Failed;
            error = AiProviderCatalog.Describe(ex);
            LogAnswerFailed(logger, answerId, roomId, provider.Name, error);
        }

        var stored = status switch
        {
            AiAnswerStatus.Completed when text.Length > 0 => text.ToString(),
            AiAnswerStatus.Completed => "_(no answer)_",
            AiAnswerStatus.Stopped => text.Length > 0 ? text + "\n\n_(stopped)_" : "_(stopped before answering)_",
            _ => (text.Length > 0 ? text + "\n\n" : "") + $"_(no answer: {error})_",
        };
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var chat = scope.ServiceProvider.GetRequiredService<ChatService>();
            // Not cancelled by the stop: the partial answer is kept.
            await chat.PostServerMessageAsync(roomId, ChatKinds.Ai, login, FitContent(stored), null, answerId, question.Id,
                lifetime.ApplicationStopping);
        }
        finally
        {
            await PublishAsync(roomId, new AiDoneFrame(roomId, answerId, status, error, running.StoppedBy));
            await db.KeyDeleteAsync(RunningKey(answerId));
            LogAnswerEnded(logger, answerId, roomId, status, index);
        }
    }

    /// <summary>The conversation the model sees (the room's latest messages) and, with a workspace, the tools.</summary>
    private async Task<(ChatHistory History, Kernel? Kernel)> PrepareAsync(Guid answerId, ChatMessage question, string assistant, CancellationToken cancellationToken)
    {
        var roomId = question.RoomId;
        var reading = store.GetLatestAsync(roomId, question.Seq + 1, Options.HistoryMessages, cancellationToken);
        Kernel? kernel = null;
        try
        {
            await files.GetWorktreeAsync(roomId, cancellationToken);
            kernel = new Kernel();
            kernel.Plugins.AddFromObject(new WorkspaceChatTools(roomId, files, search, workspaceOptions.Value.RegexTimeout, Options.MaxToolResultChars,
                (name, detail, ct) => PublishAsync(roomId, new AiToolFrame(roomId, answerId, name, detail.Length > 200 ? detail[..200] : detail))),
                WorkspaceChatTools.PluginName);
        }
        catch (WorkspaceException)
        {
            // No ready workspace: the assistant answers from the conversation alone.
        }
        var latest = await reading;

        var history = new ChatHistory();
        history.AddSystemMessage($"""
            You are {assistant}, the AI assistant in a Conductor room where developers write code together. Members
            ask you by writing @{assistant}. Answer the latest message addressed to you, concisely, in Markdown.
            Messages from members are prefixed with their login.
            {(kernel is null
                ? "The room has no workspace yet, so you cannot see its code."
                : "You can call the workspace tools (search, list_files, read_file) to look at the room's repository; they are read-only. Mention the paths you used.")}
            """);
        foreach (var message in latest)
        {
            switch (message.Kind)
            {
                case ChatKinds.Ai:
                    history.AddAssistantMessage(message.Content.GetString() ?? "");
                    break;
                case ChatKinds.Text:
                    history.AddUserMessage($"{message.Login}: {message.Content.GetString()}");
                    break;
                case ChatKinds.CodeSnippet:
                    var c = message.Content;
                    history.AddUserMessage($"{message.Login} shared {c.GetProperty("file").GetString()} lines {c.GetProperty("start_line").GetInt32()}-{c.GetProperty("end_line").GetInt32()}:\n```{c.GetProperty("language").GetString()}\n{c.GetProperty("code").GetString()}\n```");
                    break;
                case ChatKinds.File:
                    history.AddUserMessage($"{message.Login} shared the file {message.Content.GetProperty("name").GetString()}.");
                    break;
            }
        }
        return (history, kernel);
    }

    /// <summary>Cuts an answer to the chat's content limit (on a character boundary) so it can always be stored.</summary>
    private string FitContent(string text)
    {
        var limit = chatOptions.Value.MaxContentBytes - 64;
        if (Encoding.UTF8.GetByteCount(text) <= limit)
        {
            return text;
        }
        var chars = Math.Min(text.Length, limit);
        while (chars > 0 && Encoding.UTF8.GetByteCount(text.AsSpan(0, chars)) > limit - 24)
        {
            chars -= Math.Max(1, chars / 50);
        }
        if (chars > 0 && char.IsHighSurrogate(text[chars - 1]))
        {
            chars--;
        }
        return text[..chars] + "\n\n_(answer truncated)_";
    }

    private static RedisKey RunningKey(Guid answerId) => $"ai:chat:running:{answerId:D}";

    // Frames ride the room's chat channel, so each instance's room feed delivers them in publish order with the rest.
    // A lost frame is not fatal: the stored answer arrives as a chat message regardless.
    private async Task PublishAsync<T>(Guid roomId, T frame)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChatChannels.Chat(roomId)), JsonSerializer.SerializeToUtf8Bytes(frame, ChatJson.Options));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogPublishFailed(logger, ex, roomId);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _stops = await redis.GetSubscriber().SubscribeAsync(StopChannel);
        _stops.OnMessage(message =>
        {
            try
            {
                var request = JsonSerializer.Deserialize<StopRequest>((byte[])message.Message!, ChatJson.Options);
                if (request is not null)
                {
                    TryStopLocal(request.MessageId, request.UserId);
                }
            }
            catch (JsonException)
            {
                // Not ours to understand; ignore.
            }
        });
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stops is not null)
        {
            await _stops.UnsubscribeAsync();
        }
        foreach (var running in _running.Values)
        {
            try
            {
                running.Cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AI answer {AnswerId} in room {RoomId} started on {Provider} for user {UserId}")]
    private static partial void LogAnswerStarted(ILogger logger, Guid answerId, Guid roomId, string provider, Guid userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "AI answer {AnswerId} in room {RoomId} ended {Status} after {Tokens} tokens")]
    private static partial void LogAnswerEnded(ILogger logger, Guid answerId, Guid roomId, string status, int tokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "AI answer {AnswerId} in room {RoomId} on {Provider} failed: {Reason}")]
    private static partial void LogAnswerFailed(ILogger logger, Guid answerId, Guid roomId, string provider, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "AI answer {AnswerId} in room {RoomId} could not be finished")]
    private static partial void LogAnswerCrashed(ILogger logger, Exception exception, Guid answerId, Guid roomId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stop of AI answer {AnswerId} in room {RoomId} requested by {UserId}")]
    private static partial void LogStopRequested(ILogger logger, Guid answerId, Guid roomId, Guid userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing an AI answer frame in room {RoomId} failed")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, Guid roomId);
}
