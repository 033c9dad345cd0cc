using System.Globalization;
using System.Text.Json;

namespace Conductor.Api.Conversations;

/// <summary>
/// Writes a conversation as server-sent events and remembers how far the client got, so stored turns, the live turn
/// and a resumed stream never repeat or skip text. Event ids: <c>{turn}.{attempt}.s</c> (turn_start),
/// <c>{turn}.{attempt}.{chars}</c> (token: the turn's length once applied), <c>{turn}.e</c> (turn_end);
/// <c>Last-Event-ID</c> resumes after any of them. A turn cut off by a restart is generated again under a new
/// attempt: the resumed stream sends its turn_start again and the whole new text (clients start the turn over).
/// </summary>
public sealed class ConversationStream(HttpResponse response, string? lastEventId)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The next turn the client has not fully received; the attempt it has started (if any) and how many characters.</summary>
    public int Turn { get; private set; }
    private string? _attempt;
    private int _offset;

    public void Resume()
    {
        var parts = lastEventId?.Split('.');
        if (parts is not { Length: 2 or 3 } || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var turn))
        {
            return;
        }
        if (parts is [_, "e"])
        {
            Turn = turn + 1;
        }
        else if (parts is [_, var attempt, "s"])
        {
            (Turn, _attempt) = (turn, attempt);
        }
        else if (parts is [_, var tokenAttempt, var chars] && int.TryParse(chars, NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            (Turn, _attempt, _offset) = (turn, tokenAttempt, offset);
        }
    }

    public async Task StoredTurnAsync(ConversationTurn turn, CancellationToken cancellationToken)
    {
        await EventAsync(new ConversationEvent(ConversationEventTypes.TurnStart, turn.Turn, turn.BotIndex, turn.Attempt, turn.BotName, turn.Provider,
            turn.Model), cancellationToken);
        if (turn.Content.Length > 0)
        {
            await EventAsync(new ConversationEvent(ConversationEventTypes.Token, turn.Turn, turn.BotIndex, turn.Attempt, Text: turn.Content,
                Offset: turn.Content.Length), cancellationToken);
        }
        await EventAsync(new ConversationEvent(ConversationEventTypes.TurnEnd, turn.Turn, turn.BotIndex, turn.Attempt, Offset: turn.Content.Length),
            cancellationToken);
    }

    /// <summary>Writes the event unless the client already has it (or the part of a token it already has).</summary>
    public async Task EventAsync(ConversationEvent e, CancellationToken cancellationToken)
    {
        if (e.Turn < Turn)
        {
            return;
        }
        switch (e.Type)
        {
            case ConversationEventTypes.TurnStart:
                if (e.Turn == Turn && _attempt == e.Attempt)
                {
                    return;
                }
                (Turn, _attempt, _offset) = (e.Turn, e.Attempt, 0);
                await WriteAsync(e.Type, $"{e.Turn}.{e.Attempt}.s",
                    new { turn = e.Turn, bot_index = e.BotIndex, bot_name = e.BotName, provider = e.Provider, model = e.Model }, cancellationToken);
                return;
            case ConversationEventTypes.Token:
                var text = e.Text ?? "";
                var from = e.Offset - text.Length;
                if (e.Turn != Turn || _attempt != e.Attempt || e.Offset <= _offset || _offset < from)
                {
                    return;
                }
                var piece = text[(_offset - from)..];
                _offset = e.Offset;
                await WriteAsync(e.Type, $"{e.Turn}.{e.Attempt}.{e.Offset}", new { turn = e.Turn, bot_index = e.BotIndex, text = piece }, cancellationToken);
                return;
            case ConversationEventTypes.TurnEnd:
                if (e.Turn != Turn || _attempt != e.Attempt)
                {
                    return;
                }
                (Turn, _attempt, _offset) = (e.Turn + 1, null, 0);
                await WriteAsync(e.Type, $"{e.Turn}.e", new { turn = e.Turn, bot_index = e.BotIndex, length = e.Offset }, cancellationToken);
                return;
        }
    }

    /// <summary>The live turn as a subscriber found it: its start and the text so far.</summary>
    public async Task SnapshotAsync(LiveSubscription subscription, CancellationToken cancellationToken)
    {
        if (subscription.CurrentTurn is not { } start)
        {
            return;
        }
        await EventAsync(start, cancellationToken);
        if (subscription.CurrentText.Length > 0)
        {
            await EventAsync(new ConversationEvent(ConversationEventTypes.Token, start.Turn, start.BotIndex, start.Attempt, Text: subscription.CurrentText,
                Offset: subscription.CurrentText.Length), cancellationToken);
        }
    }

    public Task ErrorAsync(string message, CancellationToken cancellationToken) =>
        WriteAsync(ConversationEventTypes.Error, null, new { message }, cancellationToken);

    public Task DoneAsync(ConversationRecord conversation, CancellationToken cancellationToken) =>
        WriteAsync(ConversationEventTypes.Done, null, new { status = conversation.Status, turns = conversation.TurnsDone }, cancellationToken);

    /// <summary>An SSE comment: keeps proxies from closing an idle stream.</summary>
    public async Task KeepAliveAsync(CancellationToken cancellationToken)
    {
        await response.WriteAsync(": keep-alive\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private async Task WriteAsync(string type, string? id, object data, CancellationToken cancellationToken)
    {
        // The type is in the data too, for clients that read the stream with fetch rather than EventSource.
        var payload = JsonSerializer.SerializeToElement(data, Json);
        var body = new Dictionary<string, JsonElement> { ["type"] = JsonSerializer.SerializeToElement(type) };
        foreach (var property in payload.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Null)
            {
                body[property.Name] = property.Value;
            }
        }
        var frame = (id is null ? "" : $"id: {id}\n") + $"event: {type}\ndata: {JsonSerializer.Serialize(body)}\n\n";
        await response.WriteAsync(frame, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
