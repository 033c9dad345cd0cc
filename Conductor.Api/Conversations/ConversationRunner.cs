using System.Collections.Concurrent;
using System.Text;

namespace Conductor.Api.Conversations;

/// <summary>
/// Runs this instance's conversations, one task each: a turn is streamed to the live watchers token by token and
/// stored when complete; the next bot's settings are read from Postgres at each turn, so a PATCH takes effect at the
/// bot's next turn wherever it was made. Each conversation is claimed by one instance at a time (a lease that
/// <see cref="ConversationRecovery"/> renews); a conversation whose instance is gone is taken over and resumes at
/// its first unstored turn. Live events reach streams on other instances through <see cref="ConversationRelay"/>.
/// </summary>
public sealed partial class ConversationRunner(ConversationStore store, ConversationAgents agents, ConversationRelay relay, TimeProvider time,
    IHostApplicationLifetime lifetime, ILogger<ConversationRunner> logger)
{
    private readonly ConcurrentDictionary<Guid, (LiveConversation Live, Task Task)> _running = new();

    /// <summary>This instance's name in <c>conversations.runner</c>; unique per process start.</summary>
    public string RunnerId { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    public LiveConversation? Find(Guid id) => _running.TryGetValue(id, out var run) ? run.Live : null;

    public IReadOnlyCollection<Guid> RunningIds => _running.Keys.ToList();

    /// <summary>Runs a conversation this instance has claimed (no-op if it already runs it).</summary>
    public void Start(Guid id)
    {
        lock (_running)
        {
            if (_running.ContainsKey(id))
            {
                return;
            }
            var live = new LiveConversation(id, lifetime.ApplicationStopping);
            // The task removes itself when done, which needs the entry in place: add it under the lock first.
            _running[id] = (live, Task.Run(() => RunAsync(live)));
        }
    }

    /// <summary>The conversation ended elsewhere (stop): ends the local run at once, storing nothing more.</summary>
    public void End(Guid id)
    {
        if (_running.TryGetValue(id, out var run))
        {
            run.Live.End();
        }
    }

    /// <summary>Waits for every run to wind down (at shutdown: each gives up its claim for the next instance).</summary>
    public Task WhenAllStoppedAsync() => Task.WhenAll(_running.Values.Select(r => r.Task));

    private async Task RunAsync(LiveConversation live)
    {
        var id = live.Id;
        var cancellationToken = live.Cancellation.Token;
        var turnNo = -1;
        try
        {
            LogResumed(logger, id, RunnerId);
            while (true)
            {
                var conversation = await store.GetAsync(id, cancellationToken);
                if (conversation is null || conversation.Status != ConversationStatuses.Running)
                {
                    break;
                }
                if (conversation.TurnsDone >= conversation.MaxTurns)
                {
                    await store.EndAsync(id, ConversationStatuses.Completed, null, time.GetUtcNow(), cancellationToken, RunnerId);
                    break;
                }
                turnNo = conversation.TurnsDone;
                var botIndex = turnNo % conversation.Bots.Count;
                var bot = conversation.Bots[botIndex];
                var history = await store.GetTurnsAsync(id, 0, cancellationToken);
                var attempt = Guid.NewGuid().ToString("N")[..8];
                Publish(live, new ConversationEvent(ConversationEventTypes.TurnStart, turnNo, botIndex, attempt, bot.Name, bot.Provider, bot.Model));
                var text = new StringBuilder();
                await foreach (var token in agents.StreamTurnAsync(bot, botIndex, conversation.Topic, history, cancellationToken))
                {
                    text.Append(token);
                    Publish(live, new ConversationEvent(ConversationEventTypes.Token, turnNo, botIndex, attempt, Text: token, Offset: text.Length));
                }
                var turn = new ConversationTurn(turnNo, botIndex, bot.Name, bot.Provider, bot.Model, text.ToString(), time.GetUtcNow(), attempt);
                if (!await store.AppendTurnAsync(id, RunnerId, turn, cancellationToken))
                {
                    // Stopped meanwhile, or another instance holds the claim now: the turn is not stored, and the
                    // watchers learn the outcome from Postgres.
                    break;
                }
                Publish(live, new ConversationEvent(ConversationEventTypes.TurnEnd, turnNo, botIndex, attempt, Offset: text.Length));
                LogTurn(logger, id, turnNo, bot.Provider, text.Length);
            }
        }
        catch (OperationCanceledException) when (live.Cancellation.IsCancellationRequested)
        {
            if (!live.Ended)
            {
                // Shutting down: the turn in progress is dropped (never half-stored) and the claim given up at once,
                // so the next instance to start (or another one running) resumes at that turn.
                await ReleaseAsync(id);
            }
        }
        catch (Exception ex)
        {
            var reason = ConversationAgents.Describe(ex);
            LogFailed(logger, id, turnNo, reason);
            try
            {
                await store.EndAsync(id, ConversationStatuses.Failed, $"turn {turnNo}: {reason}", time.GetUtcNow(), CancellationToken.None, RunnerId);
            }
            catch (Exception storeFailure) when (storeFailure is Npgsql.NpgsqlException or TimeoutException)
            {
                // The claim expires and another instance retries the turn.
                LogStoreFailed(logger, id, storeFailure.GetType().Name);
            }
        }
        finally
        {
            live.Close();
            relay.Close(id);
            lock (_running)
            {
                _running.TryRemove(id, out _);
            }
            live.Dispose();
        }
    }

    /// <summary>To this instance's streams, and through Redis to the other instances' (<see cref="ConversationRelay"/>).</summary>
    private void Publish(LiveConversation live, ConversationEvent e)
    {
        live.Publish(e);
        relay.Publish(live.Id, e);
    }

    private async Task ReleaseAsync(Guid id)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await store.ReleaseAsync(RunnerId, id, timeout.Token);
            LogReleased(logger, id);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            // The claim expires by itself.
            LogStoreFailed(logger, id, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Conversation {ConversationId} runs on {Runner}")]
    private static partial void LogResumed(ILogger logger, Guid conversationId, string runner);

    [LoggerMessage(Level = LogLevel.Information, Message = "Conversation {ConversationId} turn {Turn} on {Provider}: {Chars} characters stored")]
    private static partial void LogTurn(ILogger logger, Guid conversationId, int turn, string provider, int chars);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {ConversationId} failed at turn {Turn}: {Reason}")]
    private static partial void LogFailed(ILogger logger, Guid conversationId, int turn, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Conversation {ConversationId} released for another instance to resume")]
    private static partial void LogReleased(ILogger logger, Guid conversationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {ConversationId}: could not record the outcome ({Error}); its claim will expire")]
    private static partial void LogStoreFailed(ILogger logger, Guid conversationId, string error);
}
