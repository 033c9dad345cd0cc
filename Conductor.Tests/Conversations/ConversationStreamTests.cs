using System.Text;
using Conductor.Api.Conversations;
using Microsoft.AspNetCore.Http;

namespace Conductor.Tests.Conversations;

/// <summary>The SSE writer's resume logic in process: what a client that got this far receives next.</summary>
public sealed class ConversationStreamTests
{
    private static ConversationEvent Start(int turn, string attempt) => new(ConversationEventTypes.TurnStart, turn, turn % 2, attempt, "Bot", "mock", "m");

    private static ConversationEvent Token(int turn, string attempt, string text, int offset) =>
        new(ConversationEventTypes.Token, turn, turn % 2, attempt, Text: text, Offset: offset);

    private static ConversationEvent End(int turn, string attempt, int length) => new(ConversationEventTypes.TurnEnd, turn, turn % 2, attempt, Offset: length);

    private static async Task<string> WriteAsync(string? lastEventId, params ConversationEvent[] events)
    {
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        var stream = new ConversationStream(context.Response, lastEventId);
        stream.Resume();
        foreach (var e in events)
        {
            await stream.EventAsync(e, CancellationToken.None);
        }
        return Encoding.UTF8.GetString(body.ToArray());
    }

    private static List<string> Ids(string output) =>
        output.Split('\n').Where(l => l.StartsWith("id: ", StringComparison.Ordinal)).Select(l => l[4..]).ToList();

    private static readonly ConversationEvent[] TwoTurns =
    [
        Start(0, "a"), Token(0, "a", "Hel", 3), Token(0, "a", "lo", 5), End(0, "a", 5),
        Start(1, "b"), Token(1, "b", "Hi", 2), End(1, "b", 2),
    ];

    [Fact]
    public async Task A_new_client_gets_every_event_with_ids_that_say_how_far_it_got()
    {
        var output = await WriteAsync(null, TwoTurns);
        Assert.Equal(["0.a.s", "0.a.3", "0.a.5", "0.e", "1.b.s", "1.b.2", "1.e"], Ids(output));
        Assert.Contains("event: token\ndata: {\"type\":\"token\",\"turn\":0,\"bot_index\":0,\"text\":\"Hel\"}\n\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_resuming_mid_token_gets_only_the_characters_it_lacks()
    {
        // It had "Hel" of turn 0; a stored turn replays as one token holding the whole text.
        var output = await WriteAsync("0.a.3", Start(0, "a"), Token(0, "a", "Hello", 5), End(0, "a", 5), Start(1, "b"));
        Assert.Equal(["0.a.5", "0.e", "1.b.s"], Ids(output));
        Assert.Contains("\"text\":\"lo\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_resuming_after_a_turn_end_skips_that_turn()
    {
        Assert.Equal(["1.b.s", "1.b.2", "1.e"], Ids(await WriteAsync("0.e", TwoTurns)));
    }

    [Fact]
    public async Task A_turn_generated_again_under_a_new_attempt_is_sent_whole()
    {
        var output = await WriteAsync("0.a.3", Start(0, "z"), Token(0, "z", "Fresh", 5), End(0, "z", 5));
        Assert.Equal(["0.z.s", "0.z.5", "0.e"], Ids(output));
        Assert.Contains("\"text\":\"Fresh\"", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("x.a.s")]
    [InlineData("")]
    public async Task An_id_that_does_not_parse_replays_from_the_start(string lastEventId)
    {
        Assert.Equal(7, Ids(await WriteAsync(lastEventId, TwoTurns)).Count);
    }
}
