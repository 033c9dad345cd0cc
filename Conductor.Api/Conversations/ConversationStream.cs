using System.Globalization;
using System.Text.Json;

namespace Conductor.Api.Conversations;

/// <summary>
/// Writes a conversation as server-sent events and remembers how far the client got, so stored turns, the live turn
/// and a resumed stream never repeat or skip text. Event ids: <c>{turn}.s</c> (turn_start), <c>{turn}.{chars}</c>
/// (token: the turn's length once applied), <c>{turn}.e</c> (turn_end); <c>Last-Event-ID</c> resumes after any of them.
/// </summary>
public sealed class ConversationStream(HttpResponse response, string? lastEventId)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The next turn the client has not fully received, whether it has its turn_start, and how many characters.</summary>
    public int Turn { get; private set; }
    private bool _started;
    private int _offset;

    public void Resume()
    {
        if (lastEventId is not { Length: > 2 } id)
        {
            return;
        }
        var dot = id.IndexOf('.', StringComparison.Ordinal);
        if (dot < 1 || !int.TryParse(id.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var turn))
        {
            return;
        }
        var rest = id.AsSpan(dot + 1);
        if (rest is "e")
        {
            Turn = turn + 1;
        }
        else if (rest is "s")
        {
            (Turn, _started) = (turn, true);
        }
        else if (int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            (Turn, _started, _offset) = (turn, true, offset);
        }
    }

    public async Task StoredTurnAsync(ConversationTurn turn, CancellationToken cancellationToken)
    {
        await EventAsync(new ConversationEvent(ConversationEventTypes.TurnStart, turn.Turn, turn.BotIndex, turn.BotName, turn.Provider, turn.Model), cancellationToken);
        if (turn.Content.Length > 0)
        {
            await EventAsync(new ConversationEvent(ConversationEventTypes.Token, turn.Turn, turn.BotIndex, Text: turn.Content, Offset: turn.Content.Length), cancellationToken);
        }
        await EventAsync(new ConversationEvent(ConversationEventTypes.TurnEnd, turn.Turn, turn.BotIndex, Offset: turn.Content.Length), cancellationToken);
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
                if (e.Turn == Turn && _started)
                {
                    return;
                }
                (Turn, _started, _offset) = (e.Turn, true, 0);
                await WriteAsync(e.Type, $"{e.Turn}.s", new { turn = e.Turn, bot_index = e.BotIndex, bot_name = e.BotName, provider = e.Provider, model = e.Model },
                    cancellationToken);
                return;
            case ConversationEventTypes.Token:
                var text = e.Text ?? "";
                var from = e.Offset - text.Length;
                if (e.Turn != Turn || !_started || e.Offset <= _offset || _offset < from)
                {
                    return;
                }
                var piece = text[(_offset - from)..];
                _offset = e.Offset;
                await WriteAsync(e.Type, $"{e.Turn}.{e.Offset}", new { turn = e.Turn, bot_index = e.BotIndex, text = piece }, cancellationToken);
                return;
            case ConversationEventTypes.TurnEnd:
                (Turn, _started, _offset) = (e.Turn + 1, false, 0);
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
            await EventAsync(new ConversationEvent(ConversationEventTypes.Token, start.Turn, start.BotIndex, Text: subscription.CurrentText,
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
