using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Npgsql;

namespace Conductor.Tests.Conversations;

[Collection(ConversationCluster.Name)]
public sealed class ConversationsTests(ConversationCluster cluster)
{
    private static readonly TimeSpan GiveUp = TimeSpan.FromSeconds(30);

    private static Task<HttpResponseMessage> PatchAsync(ApiClient client, string path, object body) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, path) { Content = JsonContent.Create(body) });

    private static async Task<Guid> StartAsync(ApiClient client, Guid roomId, object request) =>
        (await ApiClient.ExpectAsync(await client.PostAsync($"/rooms/{roomId}/conversations", request), HttpStatusCode.Created))
            .GetProperty("conversation_id").GetGuid();

    private static string Text(IEnumerable<SseEvent> events, int turn) =>
        string.Concat(events.Where(e => e.Type == "token" && e.Turn == turn).Select(e => e.Data.GetProperty("text").GetString()));

    /// <summary>Holds of the fake provider's answers, by the test's own call number (1 = the first call this test makes).</summary>
    private sealed class Holds
    {
        private readonly ConcurrentDictionary<int, TaskCompletionSource> _holds = new();
        public TaskCompletionSource this[int call] => _holds.GetOrAdd(call, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        public void ReleaseAll()
        {
            foreach (var hold in _holds.Values)
            {
                hold.TrySetResult();
            }
        }
    }

    [Fact]
    public async Task Two_bots_stream_their_turns_obey_a_mid_run_patch_stop_and_export()
    {
        var (host, user, roomId) = await cluster.HostWithRoomAsync();
        var holds = new Holds();
        var openAiCalls = 0;
        var anthropicCalls = 0;
        var openAiBefore = cluster.OpenAI.ChatRequests.Count;
        var anthropicBefore = cluster.Anthropic.ChatRequests.Count;
        cluster.OpenAI.Answer = _ =>
        {
            var call = Interlocked.Increment(ref openAiCalls);
            return new FakeAnswer([$"Cats {call}: ", "purr ", "best."]) { HoldAfterFirstToken = holds[call].Task };
        };
        cluster.Anthropic.Answer = _ => new FakeAnswer([$"Dogs {Interlocked.Increment(ref anthropicCalls)}: ", "fetch ", "better."]);
        try
        {
            var id = await StartAsync(host, roomId, new
            {
                topic = "Cats or dogs?",
                bots = new object[]
                {
                    new { name = "Pro", provider = "openai", instructions = "Argue for cats." },
                    new { name = "Con", provider = "openai", model = "fake-model", instructions = "Argue for dogs." },
                },
                max_turns = 6,
            });
            var path = $"/rooms/{roomId}/conversations/{id}";
            await using var stream = await SseReader.OpenAsync(cluster.Url, user.AccessToken, $"{path}/stream");
            Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);

            // Turn 0 is held after its first token: the PATCH lands mid-run, before bot 1's first turn.
            var first = await stream.ReadUntilAsync(e => e.Type == "token");
            Assert.Equal("turn_start", first[0].Type);
            Assert.Equal(("Pro", "openai", "fake-model"), (first[0].Data.GetProperty("bot_name").GetString(),
                first[0].Data.GetProperty("provider").GetString(), first[0].Data.GetProperty("model").GetString()));
            var patched = await ApiClient.ExpectAsync(await PatchAsync(host, $"{path}/bots/1",
                new { provider = "claude", model = "fake-claude-2", instructions = "Argue for dogs, briefly." }), HttpStatusCode.OK);
            Assert.Equal("fake-claude-2", patched.GetProperty("bots")[1].GetProperty("model").GetString());
            holds[1].SetResult();

            var turns01 = await stream.ReadUntilAsync(e => e.Type == "turn_end" && e.Turn == 1);
            Assert.Equal("Cats 1: purr best.", Text(first.Concat(turns01), 0));
            var start1 = Assert.Single(turns01, e => e.Type == "turn_start");
            Assert.Equal(("Con", "claude", "fake-claude-2"), (start1.Data.GetProperty("bot_name").GetString(),
                start1.Data.GetProperty("provider").GetString(), start1.Data.GetProperty("model").GetString()));
            Assert.Equal("Dogs 1: fetch better.", Text(turns01, 1));

            // Bot 1's turn went to the Anthropic fake with the new instructions and model, and saw bot 0's turn.
            var toClaude = cluster.Anthropic.ChatRequests[anthropicBefore].Json;
            Assert.Equal("fake-claude-2", toClaude.GetProperty("model").GetString());
            Assert.Contains("Argue for dogs, briefly.", toClaude.GetProperty("system").ToString(), StringComparison.Ordinal);
            Assert.Contains("Pro: Cats 1: purr best.", toClaude.GetProperty("messages").ToString(), StringComparison.Ordinal);

            // Turn 2 (bot 0 again) is held mid-stream; stop ends it there and stores nothing of it.
            var turn2 = await stream.ReadUntilAsync(e => e.Type == "token" && e.Turn == 2);
            var toOpenAi = cluster.OpenAI.ChatRequests[openAiBefore + 1].Json;
            var messages = toOpenAi.GetProperty("messages").EnumerateArray()
                .Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").ToString())).ToList();
            Assert.Equal(("system", "Argue for cats."), messages[0]);
            Assert.Contains(("assistant", "Cats 1: purr best."), messages);
            Assert.Contains(("user", "Con: Dogs 1: fetch better."), messages);
            var stopped = await ApiClient.ExpectAsync(await host.PostAsync($"{path}/stop", null), HttpStatusCode.OK);
            Assert.Equal("stopped", stopped.GetProperty("status").GetString());
            var rest = await stream.ReadUntilAsync(e => e.Type == "done");
            Assert.DoesNotContain(turn2.Concat(rest), e => e.Type == "turn_end" && e.Turn == 2);
            Assert.Equal("stopped", rest[^1].Data.GetProperty("status").GetString());
            Assert.Null(await stream.NextAsync());
            await cluster.OpenAI.ChatRequests[openAiBefore + 1].ClientAborted.Task.WaitAsync(GiveUp);

            var export = await ApiClient.ExpectAsync(await host.GetAsync($"{path}/export.json"), HttpStatusCode.OK);
            Assert.Equal("stopped", export.GetProperty("conversation").GetProperty("status").GetString());
            Assert.Equal(2, export.GetProperty("conversation").GetProperty("turns_done").GetInt32());
            Assert.Equal(["Cats 1: purr best.", "Dogs 1: fetch better."],
                export.GetProperty("turns").EnumerateArray().Select(t => t.GetProperty("content").GetString()));
            Assert.Equal(["openai", "claude"], export.GetProperty("turns").EnumerateArray().Select(t => t.GetProperty("provider").GetString()));
            using var markdown = await host.GetAsync($"{path}/export.md");
            Assert.Equal("text/markdown", markdown.Content.Headers.ContentType?.MediaType);
            var md = await markdown.Content.ReadAsStringAsync();
            Assert.StartsWith("# Cats or dogs?\n", md, StringComparison.Ordinal);
            Assert.Contains("### 1. Pro\n_openai, fake-model_\n\nCats 1: purr best.\n", md, StringComparison.Ordinal);
            Assert.Contains("### 2. Con\n_claude, fake-claude-2_\n\nDogs 1: fetch better.\n", md, StringComparison.Ordinal);

            // Ended: the bots no longer change, stopping again answers the same state, a new stream replays and ends.
            await ApiClient.ExpectProblemAsync(await PatchAsync(host, $"{path}/bots/0", new { instructions = "x" }), HttpStatusCode.Conflict);
            Assert.Equal("stopped", (await ApiClient.ExpectAsync(await host.PostAsync($"{path}/stop", null), HttpStatusCode.OK)).GetProperty("status").GetString());
            await using var replay = await SseReader.OpenAsync(cluster.Url, user.AccessToken, $"{path}/stream");
            var replayed = await replay.ReadUntilAsync(e => e.Type == "done");
            Assert.Equal(["turn_start", "token", "turn_end", "turn_start", "token", "turn_end", "done"], replayed.Select(e => e.Type));
            Assert.Equal("Dogs 1: fetch better.", Text(replayed, 1));
            var listed = await ApiClient.ExpectAsync(await host.GetAsync($"/rooms/{roomId}/conversations"), HttpStatusCode.OK);
            Assert.Equal(id, Assert.Single(listed.GetProperty("conversations").EnumerateArray()).GetProperty("conversation_id").GetGuid());
        }
        finally
        {
            holds.ReleaseAll();
        }
    }

    [Fact]
    public async Task A_stream_on_another_instance_shows_the_turn_in_progress_and_each_token_live_then_the_stop()
    {
        var (host, user, roomId) = await cluster.HostWithRoomAsync();
        var (other, otherUrl) = await cluster.StartAnotherApiAsync();
        await using var secondApi = other;
        using var otherClient = new ApiClient(otherUrl, user.AccessToken);
        var holds = new Holds();
        var calls = 0;
        cluster.OpenAI.Answer = _ =>
        {
            var call = Interlocked.Increment(ref calls);
            return new FakeAnswer([$"Turn {call}: ", "slowly ", "spoken."]) { HoldAfterFirstToken = holds[call].Task };
        };
        try
        {
            var id = await StartAsync(host, roomId, new
            {
                topic = "Relayed",
                bots = new object[]
                {
                    new { name = "One", provider = "openai", instructions = "Speak." },
                    new { name = "Two", provider = "openai", instructions = "Answer." },
                },
                max_turns = 4,
            });
            var path = $"/rooms/{roomId}/conversations/{id}";
            // The conversation runs on the first instance: its own stream sees turn 0's first token (then the turn is held).
            await using var local = await SseReader.OpenAsync(cluster.Url, user.AccessToken, $"{path}/stream");
            await local.ReadUntilAsync(e => e.Type == "token");

            // A stream on the other instance, opened mid-turn: the turn so far comes through Redis (nothing is stored yet).
            await using var remote = await SseReader.OpenAsync(otherUrl, user.AccessToken, $"{path}/stream");
            var snapshot = await remote.ReadUntilAsync(e => e.Type == "token");
            Assert.Equal(["turn_start", "token"], snapshot.Select(e => e.Type));
            Assert.Equal("Turn 1: ", Text(snapshot, 0));
            Assert.Equal(0, (await ApiClient.ExpectAsync(await otherClient.GetAsync(path), HttpStatusCode.OK)).GetProperty("turns_done").GetInt32());

            // The rest of the turn, and the next turn's first token while it is held, arrive live on the other instance.
            holds[1].SetResult();
            var turn0 = await remote.ReadUntilAsync(e => e.Type == "turn_end" && e.Turn == 0);
            Assert.Equal("Turn 1: slowly spoken.", Text(snapshot.Concat(turn0), 0));
            var turn1 = await remote.ReadUntilAsync(e => e.Type == "token" && e.Turn == 1);
            Assert.Equal("Turn 2: ", Text(turn1, 1));

            // Stopped through the other instance: both streams end with the outcome.
            await ApiClient.ExpectAsync(await otherClient.PostAsync($"{path}/stop", null), HttpStatusCode.OK);
            var end = await remote.ReadUntilAsync(e => e.Type == "done");
            Assert.Equal("stopped", end[^1].Data.GetProperty("status").GetString());
            Assert.DoesNotContain(end, e => e.Type == "turn_end" && e.Turn == 1);
            Assert.Equal("stopped", (await local.ReadUntilAsync(e => e.Type == "done"))[^1].Data.GetProperty("status").GetString());
        }
        finally
        {
            holds.ReleaseAll();
        }
    }

    [Fact]
    public async Task Signing_out_ends_the_sessions_conversation_stream_with_a_signed_out_error_while_the_conversation_and_the_users_other_stream_go_on()
    {
        var (host, user, roomId) = await cluster.HostWithRoomAsync();
        using var anonymous = cluster.Client();
        var leaving = await anonymous.DevLoginAsync(user.Login); // the same user on another device
        var holds = new Holds();
        var calls = 0;
        cluster.OpenAI.Answer = _ =>
        {
            var call = Interlocked.Increment(ref calls);
            return new FakeAnswer([$"Turn {call}: ", "held ", "on."]) { HoldAfterFirstToken = holds[call].Task };
        };
        try
        {
            var id = await StartAsync(host, roomId, new
            {
                topic = "Signing out",
                bots = new object[]
                {
                    new { name = "One", provider = "openai", instructions = "Speak." },
                    new { name = "Two", provider = "openai", instructions = "Answer." },
                },
                max_turns = 2,
            });
            var path = $"/rooms/{roomId}/conversations/{id}/stream";
            await using var leavingStream = await SseReader.OpenAsync(cluster.Url, leaving.AccessToken, path);
            await using var stayingStream = await SseReader.OpenAsync(cluster.Url, user.AccessToken, path);
            await leavingStream.ReadUntilAsync(e => e.Type == "token").WaitAsync(GiveUp);
            await stayingStream.ReadUntilAsync(e => e.Type == "token").WaitAsync(GiveUp);

            await ApiClient.ExpectAsync(await anonymous.PostAsync("/auth/revoke", new { refresh_token = leaving.RefreshToken }), HttpStatusCode.NoContent);

            // The stream's documented error event says why, then the response ends cleanly (no done: the conversation runs on).
            var end = await leavingStream.ReadUntilAsync(e => e.Type == "error").WaitAsync(GiveUp);
            Assert.Equal("signed out", end[^1].Data.GetProperty("message").GetString());
            Assert.Null(await leavingStream.NextAsync().WaitAsync(GiveUp));

            holds[1].SetResult();
            var turn0 = await stayingStream.ReadUntilAsync(e => e.Type == "turn_end" && e.Turn == 0).WaitAsync(GiveUp);
            Assert.Equal("held on.", Text(turn0, 0));
            var conversation = await ApiClient.ExpectAsync(await host.GetAsync($"/rooms/{roomId}/conversations/{id}"), HttpStatusCode.OK);
            Assert.Equal("running", conversation.GetProperty("status").GetString());
        }
        finally
        {
            holds.ReleaseAll();
        }
    }

    [Fact]
    public async Task A_conversation_cut_off_by_an_Api_crash_resumes_at_its_unstored_turn_and_the_stream_resumes_by_Last_Event_ID()
    {
        var (host, user, roomId) = await cluster.HostWithRoomAsync();
        var holds = new Holds();
        var calls = 0;
        // Call 2 (turn 1) is cut off by the crash after its first token; it is never released.
        cluster.OpenAI.Answer = _ =>
        {
            var call = Interlocked.Increment(ref calls);
            return call == 2
                ? new FakeAnswer(["partial ", "never ", "stored"]) { HoldAfterFirstToken = holds[call].Task }
                : new FakeAnswer([$"Call {call} ", "says ", "hello."]);
        };
        try
        {
            var id = await StartAsync(host, roomId, new
            {
                topic = "Restarts",
                bots = new object[]
                {
                    new { name = "A", provider = "openai", instructions = "Be A." },
                    new { name = "B", provider = "openai", instructions = "Be B." },
                },
                max_turns = 4,
            });
            var path = $"/rooms/{roomId}/conversations/{id}";
            List<SseEvent> before;
            await using (var stream = await SseReader.OpenAsync(cluster.Url, user.AccessToken, $"{path}/stream"))
            {
                before = await stream.ReadUntilAsync(e => e.Type == "token" && e.Turn == 1);
            }
            Assert.Equal("partial ", Text(before, 1));
            var lastEventId = before[^1].Id;
            Assert.NotNull(lastEventId);

            await cluster.CrashAndRestartApiAsync();

            await using var resumed = await SseReader.OpenAsync(cluster.Url, user.AccessToken, $"{path}/stream", lastEventId);
            var after = await resumed.ReadUntilAsync(e => e.Type == "done");
            // Turn 1 starts over (a new attempt): its partial text from the crashed instance is replaced, not continued.
            Assert.Equal(("turn_start", 1), (after[0].Type, after[0].Turn));
            Assert.NotEqual(before.Last(e => e.Type == "turn_start").Id, after[0].Id);
            Assert.Equal([1, 2, 3], after.Where(e => e.Type == "turn_end").Select(e => e.Turn));
            Assert.Equal("Call 3 says hello.", Text(after, 1));
            Assert.Equal("completed", after[^1].Data.GetProperty("status").GetString());
            Assert.Equal(4, after[^1].Data.GetProperty("turns").GetInt32());

            // The same access token works on the new process (the key ring is in Postgres).
            using var restarted = cluster.Client(user.AccessToken);
            var export = await ApiClient.ExpectAsync(await restarted.GetAsync($"{path}/export.json"), HttpStatusCode.OK);
            var turns = export.GetProperty("turns").EnumerateArray().ToList();
            Assert.Equal([0, 1, 2, 3], turns.Select(t => t.GetProperty("turn").GetInt32()));
            Assert.Equal(["Call 1 says hello.", "Call 3 says hello.", "Call 4 says hello.", "Call 5 says hello."],
                turns.Select(t => t.GetProperty("content").GetString()));
            Assert.Equal(["A", "B", "A", "B"], turns.Select(t => t.GetProperty("bot_name").GetString()));
            Assert.Equal("completed", export.GetProperty("conversation").GetProperty("status").GetString());

            // Nothing half-stored: exactly the four complete turns, and the conversation holds no claim any more.
            await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);
            await using var count = dataSource.CreateCommand("SELECT count(*), bool_and(content NOT LIKE '%partial%') FROM conversation_turns WHERE conversation_id = $1");
            count.Parameters.Add(new NpgsqlParameter { Value = id });
            await using var reader = await count.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.Equal((4L, true), (reader.GetInt64(0), reader.GetBoolean(1)));
        }
        finally
        {
            holds.ReleaseAll();
        }
    }

    [Fact]
    public async Task Starts_are_validated_limited_per_user_and_conversations_belong_to_the_room()
    {
        var (host, user, roomId) = await cluster.HostWithRoomAsync();
        var mockBots = new object[] { new { name = "One", provider = "mock" }, new { name = "Two", provider = "mock" } };
        await ApiClient.ExpectProblemAsync(await host.PostAsync($"/rooms/{roomId}/conversations",
            new { topic = "t", bots = new object[] { new { name = "Solo", provider = "mock" } } }), HttpStatusCode.BadRequest, "Invalid bots");
        await ApiClient.ExpectProblemAsync(await host.PostAsync($"/rooms/{roomId}/conversations",
            new { topic = "t", bots = new object[] { new { name = "A", provider = "mock" }, new { name = "B", provider = "nope" } } }),
            HttpStatusCode.BadRequest, "Unknown provider");
        await ApiClient.ExpectProblemAsync(await host.PostAsync($"/rooms/{roomId}/conversations", new { topic = "t", bots = mockBots, max_turns = 51 }),
            HttpStatusCode.BadRequest, "Invalid max_turns");
        await ApiClient.ExpectProblemAsync(await host.PostAsync($"/rooms/{roomId}/conversations", new { bots = mockBots }),
            HttpStatusCode.BadRequest, "topic is required");

        var ids = new List<Guid>();
        for (var i = 0; i < ConversationCluster.StartLimit; i++)
        {
            ids.Add(await StartAsync(host, roomId, new { topic = $"mock talk {i}", bots = mockBots, max_turns = 2 }));
        }
        using var limited = await host.PostAsync($"/rooms/{roomId}/conversations", new { topic = "one too many", bots = mockBots });
        var problem = await ApiClient.ExpectProblemAsync(limited, HttpStatusCode.TooManyRequests);
        Assert.Equal("conversation_start_limited", problem.GetProperty("code").GetString());
        Assert.NotNull(limited.Headers.RetryAfter);

        // The server ends a conversation at max_turns: the mock's two turns, then done.
        await using (var stream = await SseReader.OpenAsync(cluster.Url, user.AccessToken, $"/rooms/{roomId}/conversations/{ids[0]}/stream"))
        {
            var events = await stream.ReadUntilAsync(e => e.Type == "done");
            Assert.Equal(2, events.Count(e => e.Type == "turn_end"));
            Assert.Equal("completed", events[^1].Data.GetProperty("status").GetString());
        }

        // Another member sees the room's conversations; an outsider sees nothing, and ids of other rooms are 404.
        var other = await cluster.SignInAsync("other");
        using var otherClient = cluster.Client(other.AccessToken);
        await ApiClient.ExpectProblemAsync(await otherClient.GetAsync($"/rooms/{roomId}/conversations"), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await otherClient.GetAsync($"/rooms/{roomId}/conversations/{ids[0]}/export.json"), HttpStatusCode.Forbidden);
        var otherRoom = await ApiClient.ExpectAsync(await otherClient.PostAsync("/rooms", new { name = "elsewhere" }), HttpStatusCode.Created);
        var otherRoomId = otherRoom.GetProperty("room_id").GetGuid();
        await ApiClient.ExpectProblemAsync(await otherClient.GetAsync($"/rooms/{otherRoomId}/conversations/{ids[0]}"), HttpStatusCode.NotFound);
        await ApiClient.ExpectProblemAsync(await otherClient.PostAsync($"/rooms/{otherRoomId}/conversations/{ids[1]}/stop", null), HttpStatusCode.NotFound);
        var invite = await ApiClient.ExpectAsync(await host.PostAsync($"/rooms/{roomId}/invites", new { }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await otherClient.PostAsync("/rooms/join", new { token = invite.GetProperty("token").GetString() }), HttpStatusCode.OK);
        var listed = await ApiClient.ExpectAsync(await otherClient.GetAsync($"/rooms/{roomId}/conversations"), HttpStatusCode.OK);
        Assert.Equal(ids.OrderDescending(), listed.GetProperty("conversations").EnumerateArray().Select(c => c.GetProperty("conversation_id").GetGuid()).Order().Reverse());
        Assert.All(listed.GetProperty("conversations").EnumerateArray(), c => Assert.Equal(user.UserId, c.GetProperty("created_by").GetGuid()));
    }
}
