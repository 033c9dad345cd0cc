using System.Text.Json;
using Conductor.Tests.Ai;

namespace Conductor.Tests.Extension;

/// <summary>
/// What the fake OpenAI-compatible provider answers in the extension's end-to-end run, by marker in the request (the
/// e2e reads the same script from <c>CONDUCTOR_FAKE_AI_SCRIPT</c>, so the texts live here only):
/// an <c>@ai</c> question is answered in full; a second one streams a first piece and then holds its stream open
/// until the extension's Stop aborts it; an agent conversation's first turn is answered in full and its second turn
/// holds after a first piece, so the e2e sees a turn in progress for certain (no timing) and stops it there.
/// Only letters, spaces and full stops: the SDK's JSON writer escapes nothing in them, so a marker is found as sent.
/// </summary>
internal sealed record ScriptedAi(string Provider, string ChatMarker, string ChatAnswer, string HeldChatMarker, string HeldChatPiece,
    string ConversationMarker, string FirstTurn, string SecondTurnPiece)
{
    public static ScriptedAi Default { get; } = new(
        Provider: "fake",
        ChatMarker: "QuestionMarkerAlpha",
        ChatAnswer: "Chat frames keep their order within a room.",
        HeldChatMarker: "QuestionMarkerBravo",
        HeldChatPiece: "Let me think about that ",
        ConversationMarker: "TopicMarkerCharlie",
        FirstTurn: "Ordered streams make replays simple.",
        SecondTurnPiece: "Counterpoint. Ordering costs ");

    /// <summary>The answer for one chat request, or null (the fake's default) for anything the script does not know.</summary>
    public FakeAnswer? Answer(FakeRequest request)
    {
        // An @ai request carries the room's recent chat, so the later question's marker is looked for first.
        if (request.Body.Contains(HeldChatMarker, StringComparison.Ordinal))
        {
            return new FakeAnswer([HeldChatPiece, "more"]) { HoldAfterFirstToken = new TaskCompletionSource().Task };
        }
        if (request.Body.Contains(ChatMarker, StringComparison.Ordinal))
        {
            return FakeAnswer.Text(ChatAnswer, 4) with { TokenDelay = TimeSpan.FromMilliseconds(50) };
        }
        if (request.Body.Contains(ConversationMarker, StringComparison.Ordinal))
        {
            // The second bot's request holds the first bot's turn (as a user message prefixed with its name).
            return request.Body.Contains(FirstTurn, StringComparison.Ordinal)
                ? new FakeAnswer([SecondTurnPiece, "latency."]) { HoldAfterFirstToken = new TaskCompletionSource().Task }
                : FakeAnswer.Text(FirstTurn, 3) with { TokenDelay = TimeSpan.FromMilliseconds(50) };
        }
        return null;
    }

    public string ToJson() => JsonSerializer.Serialize(new
    {
        provider = Provider,
        chat_marker = ChatMarker,
        chat_answer = ChatAnswer,
        held_chat_marker = HeldChatMarker,
        held_chat_piece = HeldChatPiece,
        conversation_marker = ConversationMarker,
        first_turn = FirstTurn,
        second_turn_piece = SecondTurnPiece,
    });
}
