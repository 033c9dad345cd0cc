using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Conductor.Api.Chat;
using Conductor.Tests.Infrastructure;
using Npgsql;

namespace Conductor.Tests.Chat;

/// <summary>
/// Chat over real sockets against two Api instances sharing a real Postgres and a real Redis: ordering, idempotent
/// resends, recovery with since, typing expiry, presence, membership and bad input.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ChatSocketTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    private static readonly Dictionary<string, string?> Unlimited = new()
    {
        ["Chat__MessageBurst"] = "100000",
        ["Chat__MessagesPerSecond"] = "100000",
        ["Chat__HistoryBurst"] = "100000",
        ["Chat__HistoryPerSecond"] = "100000",
    };

    private static object Chat(string content, Guid? id = null) => id is null ? new { type = "chat", content } : new { type = "chat", id, content };

    [Fact]
    public async Task Clients_on_two_instances_receive_every_message_in_the_order_the_database_holds()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: Unlimited);
        var users = new List<ChatUser>();
        for (var i = 0; i < 4; i++)
        {
            users.Add(await cluster.CreateUserAsync($"user{i}"));
        }
        var roomId = await cluster.CreateRoomAsync(users[0], [.. users.Skip(1)]);
        var sockets = new List<ChatSocket>();
        for (var i = 0; i < users.Count; i++)
        {
            sockets.Add(await cluster.ConnectAsync(i % 2, roomId, users[i]));
        }
        try
        {
            foreach (var socket in sockets)
            {
                await socket.WaitForTypeAsync("presence");
            }
            const int PerClient = 25;
            // Everyone sends at once, from both instances: the interleaving is decided by the database.
            await Task.WhenAll(sockets.Select((socket, index) => Task.Run(async () =>
            {
                for (var n = 0; n < PerClient; n++)
                {
                    await socket.SendAsync(Chat($"{index}:{n}"));
                }
            })));
            var total = PerClient * sockets.Count;
            foreach (var socket in sockets)
            {
                await socket.WaitForChatsAsync(total);
            }

            using var http = cluster.Http(1, users[0]);
            var history = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history?limit=200");
            Assert.Equal(total, history!.Length);
            var stored = history.Select(m => m.GetProperty("id").GetGuid()).ToList();
            Assert.Equal(Enumerable.Range(1, total).Select(n => (long)n), history.Select(m => m.GetProperty("seq").GetInt64()));
            var timestamps = history.Select(m => m.GetProperty("timestamp").GetDateTime()).ToList();
            Assert.True(timestamps.Zip(timestamps.Skip(1)).All(pair => pair.First < pair.Second), "timestamps strictly increase");
            foreach (var socket in sockets)
            {
                Assert.Equal(stored, socket.Chats.Select(m => m.GetProperty("id").GetGuid()));
            }
            // Each sender's own messages are in the order it sent them.
            for (var index = 0; index < sockets.Count; index++)
            {
                var mine = history.Select(m => m.GetProperty("content").GetString()!).Where(c => c.StartsWith($"{index}:", StringComparison.Ordinal));
                Assert.Equal(Enumerable.Range(0, PerClient).Select(n => $"{index}:{n}"), mine);
            }
            var first = history[0];
            Assert.Equal("chat", first.GetProperty("type").GetString());
            Assert.Equal("text", first.GetProperty("kind").GetString());
            Assert.Equal(roomId, first.GetProperty("room_id").GetGuid());
            Assert.EndsWith("Z", first.GetProperty("timestamp").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                await socket.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_resend_of_the_same_id_after_a_reconnect_stores_one_message_and_answers_both_sends_with_it()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        var id = Guid.NewGuid();

        JsonElement first;
        await using (var socket = await cluster.ConnectAsync(0, roomId, alice))
        {
            await socket.SendAsync(Chat("hello once", id));
            first = await socket.WaitForTypeAsync("chat", f => f.GetProperty("id").GetGuid() == id);
        }
        await using (var again = await cluster.ConnectAsync(1, roomId, alice))
        {
            await again.SendAsync(Chat("hello once", id));
            var second = await again.WaitForTypeAsync("chat", f => f.GetProperty("id").GetGuid() == id);
            Assert.Equal(first.GetProperty("seq").GetInt64(), second.GetProperty("seq").GetInt64());
            Assert.Equal(first.GetProperty("timestamp").GetString(), second.GetProperty("timestamp").GetString());
        }
        using var http = cluster.Http(0, alice);
        using var resentOverHttp = await http.PostAsJsonAsync($"/chat/{roomId}/messages", new { id, content = "hello once" });
        Assert.Equal(HttpStatusCode.OK, resentOverHttp.StatusCode);
        Assert.Equal(id, (await resentOverHttp.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());

        var history = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history");
        Assert.Single(history!);

        // Someone else cannot claim (or read through) an existing id.
        await using var intruder = await cluster.ConnectAsync(0, roomId, bob);
        await intruder.SendAsync(Chat("mine now", id));
        var error = await intruder.WaitForTypeAsync("error");
        Assert.Equal(ChatErrors.IdConflict, error.GetProperty("code").GetString());
        Assert.Equal(id, error.GetProperty("id").GetGuid());
        Assert.Single((await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history"))!);
    }

    [Fact]
    public async Task Sends_racing_with_the_same_ids_on_both_instances_and_in_many_rooms_store_each_id_once_with_no_hole_in_the_seqs()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: Unlimited);
        var alice = await cluster.CreateUserAsync("alice");
        var rooms = new List<Guid>();
        for (var r = 0; r < 3; r++)
        {
            rooms.Add(await cluster.CreateRoomAsync(alice));
        }
        using var first = cluster.Http(0, alice);
        using var second = cluster.Http(1, alice);
        // Group commit puts sends of several rooms in one transaction; each id is sent twice at once, through either
        // instance, so a batch may meet the other instance's first send of its id.
        var ids = rooms.SelectMany(room => Enumerable.Range(0, 10).Select(n => (Room: room, Id: Guid.NewGuid(), Text: $"{room:N} {n}"))).ToList();
        var answers = await Task.WhenAll(ids.SelectMany(m => new[] { first, second }.Select(async http =>
        {
            using var response = await http.PostAsJsonAsync($"/chat/{m.Room}/messages", new { id = m.Id, content = m.Text });
            return (m.Id, response.StatusCode, Seq: response.IsSuccessStatusCode
                ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("seq").GetInt64() : -1);
        })));

        foreach (var sent in answers.GroupBy(a => a.Id))
        {
            // One send created it, the other was answered with the same stored message.
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Created], sent.Select(a => a.StatusCode).Order());
            Assert.Single(sent.Select(a => a.Seq).Distinct());
        }
        foreach (var room in rooms)
        {
            var history = (await first.GetFromJsonAsync<JsonElement[]>($"/chat/{room}/history?limit=100"))!;
            Assert.Equal(Enumerable.Range(1, 10).Select(n => (long)n), history.Select(m => m.GetProperty("seq").GetInt64()));
            Assert.Equal(ids.Where(m => m.Room == room).Select(m => m.Id).Order(), history.Select(m => m.GetProperty("id").GetGuid()).Order());
        }
    }

    [Fact]
    public async Task One_batch_statement_numbers_each_rooms_new_messages_in_order_and_answers_known_and_repeated_ids_with_the_stored_message()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, instances: 1);
        var alice = await cluster.CreateUserAsync("alice");
        var first = await cluster.CreateRoomAsync(alice);
        var second = await cluster.CreateRoomAsync(alice);
        await using var dataSource = NpgsqlDataSource.Create(cluster.DatabaseConnectionString);
        var store = new ChatStore(dataSource, TimeProvider.System);
        NewChatMessage Text(Guid room, string text, Guid? id = null) =>
            new(id ?? Guid.NewGuid(), room, alice.Id, "alice", "text", JsonSerializer.Serialize(text), null);
        var known = Text(first, "stored earlier");
        Assert.True((await store.InsertAsync(known, CancellationToken.None)).Created);

        var a = Text(first, "a");
        var batch = new[] { a, Text(second, "x"), Text(first, "b"), known with { ContentJson = "\"a resend\"" }, a, Text(first, "c") };
        var stored = await store.InsertBatchAsync(batch, CancellationToken.None);

        Assert.Equal([true, true, true, false, false, true], stored.Select(s => s.Created));
        Assert.Equal([2L, 1L, 3L, 1L, 2L, 4L], stored.Select(s => s.Message.Seq));
        Assert.Equal(["a", "x", "b", "stored earlier", "a", "c"], stored.Select(s => s.Message.Content.GetString()));
        // Timestamps strictly increase with the seq within a room, so "since <timestamp>" misses nothing.
        var history = await store.GetLatestAsync(first, null, 10, CancellationToken.None);
        Assert.Equal([1L, 2L, 3L, 4L], history.Select(m => m.Seq));
        Assert.Equal(history.Select(m => m.Timestamp).Order(), history.Select(m => m.Timestamp));
        Assert.Equal(history.Count, history.Select(m => m.Timestamp).Distinct().Count());
        Assert.Equal(stored.Select(s => s.Message.Timestamp).Where((_, i) => batch[i].RoomId == first && stored[i].Created),
            history.Skip(1).Select(m => m.Timestamp));
        Assert.Equal(1L, await store.GetLastSeqAsync(second, CancellationToken.None));
    }

    [Fact]
    public async Task The_batch_statements_generic_plan_made_on_an_empty_table_finds_known_ids_through_the_primary_key()
    {
        // The writer prepares the statement once per connection and Postgres keeps the generic plan it chose then. Made
        // on a new, empty table, "id = ANY($1)" planned a sequential scan, which read every stored message for every
        // batch later on (the bench's closed loop fell by two thirds within a minute).
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, instances: 1);
        await using var connection = new NpgsqlConnection(cluster.DatabaseConnectionString);
        await connection.OpenAsync();
        Assert.Equal(0L, (long)(await new NpgsqlCommand("SELECT count(*) FROM messages", connection).ExecuteScalarAsync())!);
        await new NpgsqlCommand("SET plan_cache_mode = force_generic_plan", connection).ExecuteNonQueryAsync();
        await new NpgsqlCommand($"PREPARE batch (uuid[], uuid[], uuid[], text[], text[], jsonb[], uuid[], timestamptz) AS {ChatStore.BatchInsert}",
            connection).ExecuteNonQueryAsync();
        var plan = new List<string>();
        await using (var reader = await new NpgsqlCommand(
            "EXPLAIN (COSTS OFF) EXECUTE batch ('{}', '{}', '{}', '{}', '{}', '{}', '{}', now())", connection).ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }
        }
        var text = string.Join('\n', plan);
        Assert.DoesNotContain("Seq Scan on messages", text);
        Assert.Contains("Index Scan using messages_pkey on messages", text);
    }

    [Fact]
    public async Task The_writer_replaces_a_connection_postgres_ended_and_resends_store_each_message_once()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, instances: 1, settings: Unlimited);
        var alice = await cluster.CreateUserAsync("alice");
        var roomId = await cluster.CreateRoomAsync(alice);
        await using var socket = await cluster.ConnectAsync(0, roomId, alice);
        await socket.SendAsync(Chat("before"));
        await socket.WaitForChatsAsync(1);

        // Every session of the Api's database ends, the writer's own connection included (a Postgres restart or a
        // failover does the same).
        await using (var admin = new NpgsqlConnection(cluster.DatabaseConnectionString))
        {
            await admin.OpenAsync();
            var ended = (long)(await new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                admin).ExecuteScalarAsync())!;
            Assert.True(ended > 0);
        }

        // A send that met an ended connection is answered `unavailable` and resent with its id, as clients do; the
        // writer then works on a new connection (before, it kept the broken one and every later send failed).
        var sent = new List<Guid>();
        for (var n = 0; n < 4; n++)
        {
            var id = Guid.NewGuid();
            sent.Add(id);
            for (var attempt = 1; ; attempt++)
            {
                await socket.SendAsync(Chat($"after {n}", id));
                var answer = await socket.WaitForAsync(f => f.TryGetProperty("id", out var frameId) && frameId.GetGuid() == id
                    && f.GetProperty("type").GetString() is "chat" or "error", what: $"the answer to send {n}");
                if (answer.GetProperty("type").GetString() == "chat")
                {
                    break;
                }
                Assert.Equal(ChatErrors.Unavailable, answer.GetProperty("code").GetString());
                Assert.True(attempt < 20, "the writer never recovered from the ended connection");
            }
        }
        using var http = cluster.Http(0, alice);
        var history = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history?limit=50");
        Assert.Equal(["before", "after 0", "after 1", "after 2", "after 3"], history!.Select(m => m.GetProperty("content").GetString()));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], history!.Select(m => m.GetProperty("seq").GetInt64()));
        Assert.Equal(sent, history!.Skip(1).Select(m => m.GetProperty("id").GetGuid()));
    }

    [Fact]
    public void A_rooms_frames_of_one_batch_travel_as_one_json_text_sequence_and_come_apart_in_order()
    {
        var frames = new[] { "{\"type\":\"chat\",\"seq\":7,\"content\":\"a\\u001e\\n\"}", "{\"type\":\"chat\",\"seq\":8}", "{\"type\":\"chat\",\"seq\":9}" }
            .Select(json => OutboundFrame.TryParse(System.Text.Encoding.UTF8.GetBytes(json))!).ToList();

        var single = OutboundFrame.Join(frames[..1]);
        Assert.Equal(frames[0].Utf8.ToArray(), single.ToArray()); // one frame travels as it is
        var joined = OutboundFrame.Join(frames);
        Assert.Equal(0x1E, joined.Span[0]);

        var parts = OutboundFrame.Split(joined);
        Assert.Equal([7L, 8L, 9L], parts.Select(part => OutboundFrame.TryParse(part)!.Seq!.Value));
        Assert.Equal(frames.Select(f => f.Utf8.ToArray()), parts.Select(part => part.ToArray()));
        Assert.Equal([frames[1].Utf8.ToArray()], OutboundFrame.Split(frames[1].Utf8).Select(part => part.ToArray()));
    }

    [Fact]
    public async Task A_client_that_missed_messages_recovers_exactly_them_with_since_and_pages_back_with_before()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: Unlimited);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        await using var bobSocket = await cluster.ConnectAsync(1, roomId, bob);

        string lastSeen;
        await using (var aliceSocket = await cluster.ConnectAsync(0, roomId, alice))
        {
            await bobSocket.SendAsync(Chat("before the drop"));
            lastSeen = (await aliceSocket.WaitForTypeAsync("chat")).GetProperty("timestamp").GetString()!;
        }
        for (var n = 0; n < 3; n++)
        {
            await bobSocket.SendAsync(Chat($"missed {n}"));
        }
        await bobSocket.WaitForChatsAsync(4);

        using var http = cluster.Http(0, alice);
        var missed = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history?since={Uri.EscapeDataString(lastSeen)}&limit=50");
        Assert.Equal(["missed 0", "missed 1", "missed 2"], missed!.Select(m => m.GetProperty("content").GetString()));

        // The same over the socket.
        await using var back = await cluster.ConnectAsync(0, roomId, alice);
        await back.SendAsync(new { type = "history_request", since = lastSeen, limit = 2 });
        var page = await back.WaitForTypeAsync("history");
        Assert.Equal(["missed 0", "missed 1"], page.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()));

        // before= pages backwards; the limit is capped at 200.
        for (var n = 0; n < 206; n++)
        {
            using var posted = await http.PostAsJsonAsync($"/chat/{roomId}/messages", new { content = $"bulk {n}" });
            Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
        }
        var latest = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history?limit=500");
        Assert.Equal(200, latest!.Length);
        Assert.Equal("bulk 205", latest[^1].GetProperty("content").GetString());
        var older = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history?before={latest[0].GetProperty("id").GetGuid()}&limit=200");
        Assert.Equal(10, older!.Length);
        Assert.Equal("before the drop", older[0].GetProperty("content").GetString());
        Assert.Equal(latest[0].GetProperty("seq").GetInt64() - 1, older[^1].GetProperty("seq").GetInt64());

        using var malformed = await http.GetAsync($"/chat/{roomId}/history?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal("application/problem+json", malformed.Content.Headers.ContentType?.MediaType);
        using var zero = await http.GetAsync($"/chat/{roomId}/history?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, zero.StatusCode);
    }

    [Fact]
    public async Task Typing_reaches_the_room_is_shown_to_a_client_joining_mid_typing_and_expires_after_three_seconds()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var carol = await cluster.CreateUserAsync("carol");
        var roomId = await cluster.CreateRoomAsync(alice, bob, carol);
        await using var aliceSocket = await cluster.ConnectAsync(0, roomId, alice);
        await using var bobSocket = await cluster.ConnectAsync(1, roomId, bob);
        await bobSocket.WaitForTypeAsync("presence");

        await aliceSocket.SendAsync(new { type = "typing" });
        var live = await bobSocket.WaitForTypeAsync("typing");
        Assert.Equal(alice.Id, live.GetProperty("user_id").GetGuid());
        var typedAt = DateTime.UtcNow;

        await using (var joiner = await cluster.ConnectAsync(1, roomId, carol))
        {
            var shown = await joiner.WaitForTypeAsync("typing");
            Assert.Equal(alice.Id, shown.GetProperty("user_id").GetGuid());
            Assert.Equal("alice", shown.GetProperty("login").GetString());
        }

        await Task.Delay(TimeSpan.FromSeconds(3.3) - (DateTime.UtcNow - typedAt));
        await using var late = await cluster.ConnectAsync(0, roomId, carol);
        await late.WaitForTypeAsync("presence");
        await Task.Delay(300);
        Assert.DoesNotContain(late.Frames, f => f.GetProperty("type").GetString() == "typing");
        using var http = cluster.Http(1, bob);
        Assert.Empty((await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/typing"))!);
    }

    [Fact]
    public async Task Presence_and_joins_and_departures_are_right_across_instances()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        await using var aliceSocket = await cluster.ConnectAsync(0, roomId, alice);
        await aliceSocket.WaitForTypeAsync("presence");

        var bobSocket = await cluster.ConnectAsync(1, roomId, bob);
        var joined = await aliceSocket.WaitForTypeAsync("user_joined", f => f.GetProperty("user_id").GetGuid() == bob.Id);
        Assert.Equal("bob", joined.GetProperty("login").GetString());
        var welcome = await bobSocket.WaitForTypeAsync("presence");
        Assert.Equal(["alice", "bob"], welcome.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("login").GetString()));
        foreach (var instance in new[] { 0, 1 })
        {
            using var http = cluster.Http(instance, alice);
            var online = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/presence");
            Assert.Equal(new[] { alice.Id, bob.Id }.Order(), online!.Select(u => u.GetProperty("user_id").GetGuid()).Order());
        }

        // A second connection of bob's is not a new arrival, and closing one of two is not a departure.
        await using (var bobAgain = await cluster.ConnectAsync(0, roomId, bob))
        {
            await bobAgain.WaitForTypeAsync("presence");
        }
        await bobSocket.DisposeAsync();
        await aliceSocket.WaitForTypeAsync("user_left", f => f.GetProperty("user_id").GetGuid() == bob.Id);
        Assert.Single(aliceSocket.Frames, f => f.GetProperty("type").GetString() == "user_joined" && f.GetProperty("user_id").GetGuid() == bob.Id);
        Assert.Single(aliceSocket.Frames, f => f.GetProperty("type").GetString() == "user_left" && f.GetProperty("user_id").GetGuid() == bob.Id);
        using var after = cluster.Http(1, alice);
        Assert.Equal([alice.Id], (await after.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/presence"))!.Select(u => u.GetProperty("user_id").GetGuid()));
    }

    [Fact]
    public async Task A_browser_opens_the_room_socket_with_a_single_use_ticket_instead_of_its_token()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var roomId = await cluster.CreateRoomAsync(alice);
        using var http = cluster.Http(0, alice);
        using var minted = await http.PostAsJsonAsync("/auth/socket-ticket", new { });
        minted.EnsureSuccessStatusCode();
        var ticket = (await minted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ticket").GetString()!;
        var url = new UriBuilder(cluster.SocketUrl(1, roomId, null).Url) { Query = "ticket=" + Uri.EscapeDataString(ticket) }.Uri;

        // Minted on instance 0, opened on instance 1, as the web app does through its proxy.
        await using (var socket = await ChatSocket.ConnectAsync(url))
        {
            await socket.WaitForTypeAsync("presence");
        }

        // A second connect with the same URL (a replayed log line) is refused at the handshake.
        var replayed = await Assert.ThrowsAsync<WebSocketException>(() => ChatSocket.ConnectAsync(url));
        Assert.Contains("401", replayed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Membership_is_enforced_on_every_route()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var mallory = await cluster.CreateUserAsync("mallory");
        var roomId = await cluster.CreateRoomAsync(alice);

        using var outsider = cluster.Http(0, mallory);
        foreach (var path in new[] { "history", "read_receipts", "typing", "presence" })
        {
            using var response = await outsider.GetAsync($"/chat/{roomId}/{path}");
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        using (var posted = await outsider.PostAsJsonAsync($"/chat/{roomId}/messages", new { content = "let me in" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, posted.StatusCode);
        }

        using var anonymous = cluster.Http(0, null);
        foreach (var path in new[] { "history", "read_receipts", "typing", "presence" })
        {
            using var response = await anonymous.GetAsync($"/chat/{roomId}/{path}");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => ChatSocket.ConnectAsync(cluster.SocketUrl(0, roomId, null)));
        Assert.Contains("401", refused.Message, StringComparison.Ordinal);

        await using var socket = await cluster.ConnectAsync(1, roomId, mallory, waitUntilJoined: false);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await socket.WaitForCloseAsync());

        using var member = cluster.Http(0, alice);
        Assert.Empty((await member.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history"))!);
    }

    [Fact]
    public async Task Bad_frames_get_an_error_frame_the_socket_stays_open_and_nothing_is_stored()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: Unlimited);
        var alice = await cluster.CreateUserAsync("alice");
        var roomId = await cluster.CreateRoomAsync(alice);
        await using var socket = await cluster.ConnectAsync(0, roomId, alice);

        async Task ExpectErrorAsync(Func<Task> send, string code)
        {
            var before = socket.Frames.Count;
            await send();
            var error = await socket.WaitForAsync(f => socket.Frames.ToList().IndexOf(f) >= before && f.GetProperty("type").GetString() == "error", what: code);
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        }

        await ExpectErrorAsync(() => socket.SendTextAsync("{not json"), ChatErrors.InvalidJson);
        await ExpectErrorAsync(() => socket.SendTextAsync("[1,2]"), ChatErrors.InvalidFrame);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "shout", content = "hi" }), ChatErrors.UnknownType);
        await ExpectErrorAsync(() => socket.SendTextAsync("{\"type\":\"chat\",\"content\":\"hi\"}", WebSocketMessageType.Binary), ChatErrors.InvalidFrame);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", content = new string('é', 8193) }), ChatErrors.MessageTooLarge); // 16,386 bytes
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", content = new string('x', 300_000) }), ChatErrors.MessageTooLarge); // past the frame limit
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", content = "elsewhere", room_id = Guid.NewGuid() }), ChatErrors.NotInRoom);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", content = "   " }), ChatErrors.InvalidMessage);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", content = "x", kind = "system" }), ChatErrors.InvalidMessage);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", content = "x", id = "not-a-uuid" }), ChatErrors.InvalidMessage);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", kind = "code_snippet", content = new { file = "a.cs", start_line = 3, end_line = 1, code = "x" } }),
            ChatErrors.InvalidMessage);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "chat", content = "x", reply_to = Guid.NewGuid() }), ChatErrors.InvalidMessage);
        await ExpectErrorAsync(() => socket.SendAsync(new { type = "read_receipt", message_id = Guid.NewGuid() }), ChatErrors.NotFound);
        Assert.Equal(WebSocketState.Open, socket.State);

        // Exactly 16 KiB is fine, and a code snippet keeps only its known fields.
        await socket.SendAsync(new { type = "chat", content = new string('é', 8192) });
        await socket.SendAsync(new { type = "chat", kind = "code_snippet", content = new { file = "src/a.cs", language = "csharp", start_line = 1, end_line = 2, code = "int x;", extra = "dropped" } });
        await socket.WaitForChatsAsync(2);
        var snippet = socket.Chats[1];
        Assert.Equal("code_snippet", snippet.GetProperty("kind").GetString());
        Assert.Equal("src/a.cs", snippet.GetProperty("content").GetProperty("file").GetString());
        Assert.False(snippet.GetProperty("content").TryGetProperty("extra", out _));

        await using var connection = new NpgsqlConnection(cluster.DatabaseConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM messages", connection);
        Assert.Equal(2L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Per_user_rate_limits_answer_rate_limited_frames_and_429()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: new Dictionary<string, string?>
        {
            ["Chat__MessageBurst"] = "3",
            ["Chat__MessagesPerSecond"] = "0.01",
        });
        var alice = await cluster.CreateUserAsync("alice");
        var roomId = await cluster.CreateRoomAsync(alice);
        await using var socket = await cluster.ConnectAsync(0, roomId, alice);
        for (var n = 0; n < 3; n++)
        {
            await socket.SendAsync(Chat($"ok {n}"));
        }
        await socket.WaitForChatsAsync(3);
        await socket.SendAsync(Chat("one too many"));
        Assert.Equal(ChatErrors.RateLimited, (await socket.WaitForTypeAsync("error")).GetProperty("code").GetString());
        Assert.Equal(WebSocketState.Open, socket.State);

        // The bucket is the user's, whichever instance and transport they use.
        using var http = cluster.Http(1, alice);
        using var response = await http.PostAsJsonAsync($"/chat/{roomId}/messages", new { content = "over http" });
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("rate_limited", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(3, (await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history"))!.Length);
    }

    [Fact]
    public async Task A_users_message_tokens_leased_to_two_instances_never_add_up_to_more_than_the_bucket()
    {
        // A burst of 40 is leased 5 tokens at a time; with no refill to speak of, the user may store at most 40
        // messages however the sends are spread, and each instance holds back at most one and a half leases unused.
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: new Dictionary<string, string?>
        {
            ["Chat__MessageBurst"] = "40",
            ["Chat__MessagesPerSecond"] = "0.01",
        });
        Assert.Equal(5, ChatRateLimiter.LeaseSize(40));
        var alice = await cluster.CreateUserAsync("alice");
        var roomId = await cluster.CreateRoomAsync(alice);
        using var first = cluster.Http(0, alice);
        using var second = cluster.Http(1, alice);
        var answers = await Task.WhenAll(Enumerable.Range(0, 60).Select(async n =>
        {
            using var response = await (n % 2 == 0 ? first : second).PostAsJsonAsync($"/chat/{roomId}/messages", new { content = $"burst {n}" });
            return response.StatusCode;
        }));

        var created = answers.Count(status => status == HttpStatusCode.Created);
        Assert.All(answers, status => Assert.Contains(status, new[] { HttpStatusCode.Created, HttpStatusCode.TooManyRequests }));
        Assert.InRange(created, 40 - 2 * 7, 40);
        Assert.Equal(created, (await first.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history?limit=100"))!.Length);
    }

    [Fact]
    public async Task A_removed_member_is_closed_with_1008_room_events_reach_every_instance_and_an_ended_room_is_read_only()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        await using var aliceSocket = await cluster.ConnectAsync(0, roomId, alice);
        await using var bobSocket = await cluster.ConnectAsync(1, roomId, bob);
        await bobSocket.WaitForTypeAsync("presence");

        // A job's progress, as the GitWorker publishes it, reaches both instances' clients.
        await using var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var jobId = Guid.NewGuid();
        await redisClient.GetSubscriber().PublishAsync(StackExchange.Redis.RedisChannel.Literal(ChatChannels.Events(roomId)), $$"""{"type":"job","job_id":"{{jobId}}","status":"running"}""");
        foreach (var socket in new[] { aliceSocket, bobSocket })
        {
            Assert.Equal("running", (await socket.WaitForTypeAsync("job", f => f.GetProperty("job_id").GetGuid() == jobId)).GetProperty("status").GetString());
        }

        await cluster.RemoveMemberAsync(roomId, bob);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await bobSocket.WaitForCloseAsync());
        await aliceSocket.WaitForTypeAsync("member_removed");
        Assert.Equal(WebSocketState.Open, aliceSocket.State);

        await aliceSocket.SendAsync(Chat("still here"));
        await aliceSocket.WaitForChatsAsync(1);
        await cluster.EndRoomAsync(roomId);
        await aliceSocket.SendAsync(Chat("after the end"));
        Assert.Equal(ChatErrors.RoomEnded, (await aliceSocket.WaitForTypeAsync("error")).GetProperty("code").GetString());
        using var http = cluster.Http(0, alice);
        Assert.Single((await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history"))!);
    }

    [Fact]
    public async Task A_removed_member_is_refused_at_once_on_the_other_instance_and_gets_no_more_deliveries()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: Unlimited);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        await using var aliceSocket = await cluster.ConnectAsync(0, roomId, alice);
        await using var bobSocket = await cluster.ConnectAsync(1, roomId, bob);
        using var bobHttp = cluster.Http(1, bob);
        // Bob's membership is now cached on instance 1: his socket's check and this send read it.
        using (var sent = await bobHttp.PostAsJsonAsync($"/chat/{roomId}/messages", new { content = "before" }))
        {
            Assert.Equal(HttpStatusCode.Created, sent.StatusCode);
        }
        await aliceSocket.WaitForChatsAsync(1);
        await bobSocket.WaitForChatsAsync(1);

        // Removed through instance 0; instance 1 learns of it from the room's member_removed event.
        await cluster.RemoveMemberAsync(roomId, bob);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await bobSocket.WaitForCloseAsync());
        using (var refused = await bobHttp.PostAsJsonAsync($"/chat/{roomId}/messages", new { content = "after removal" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        using (var history = await bobHttp.GetAsync($"/chat/{roomId}/history"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, history.StatusCode);
        }
        await using (var again = await cluster.ConnectAsync(1, roomId, bob, waitUntilJoined: false))
        {
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await again.WaitForCloseAsync());
            Assert.Empty(again.Chats);
        }

        await aliceSocket.SendAsync(Chat("after"));
        await aliceSocket.WaitForChatsAsync(2);
        Assert.Equal(["before"], bobSocket.Chats.Select(c => c.GetProperty("content").GetString()));
        using var aliceHttp = cluster.Http(0, alice);
        Assert.Equal(["before", "after"], (await aliceHttp.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history"))!
            .Select(m => m.GetProperty("content").GetString()));
    }

    [Fact]
    public async Task A_removal_no_event_announced_is_refused_once_the_room_state_cache_lifetime_has_passed()
    {
        var lifetime = TimeSpan.FromSeconds(2);
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: new Dictionary<string, string?>(Unlimited)
        {
            ["Rooms__StateCache__Lifetime"] = lifetime.ToString("c"),
        });
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        using var bobHttp = cluster.Http(1, bob);
        using (var sent = await bobHttp.PostAsJsonAsync($"/chat/{roomId}/messages", new { content = "cached now" }))
        {
            Assert.Equal(HttpStatusCode.Created, sent.StatusCode);
        }

        // Behind the Api's back: no member_removed event, so only the lifetime bounds what instance 1 believes.
        await using (var dataSource = NpgsqlDataSource.Create(cluster.DatabaseConnectionString))
        await using (var command = dataSource.CreateCommand("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = roomId });
            command.Parameters.Add(new NpgsqlParameter { Value = bob.Id });
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }
        await Task.Delay(lifetime + TimeSpan.FromMilliseconds(100));
        using (var refused = await bobHttp.PostAsJsonAsync($"/chat/{roomId}/messages", new { content = "too late" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        await using var socket = await cluster.ConnectAsync(1, roomId, bob, waitUntilJoined: false);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await socket.WaitForCloseAsync());
    }

    [Fact]
    public async Task Read_receipts_are_stored_relayed_and_only_move_forward()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        await using var aliceSocket = await cluster.ConnectAsync(0, roomId, alice);
        await using var bobSocket = await cluster.ConnectAsync(1, roomId, bob);
        await aliceSocket.SendAsync(Chat("one"));
        await aliceSocket.SendAsync(Chat("two"));
        await bobSocket.WaitForChatsAsync(2);
        var (one, two) = (bobSocket.Chats[0].GetProperty("id").GetGuid(), bobSocket.Chats[1].GetProperty("id").GetGuid());

        await bobSocket.SendAsync(new { type = "read_receipt", message_id = two });
        var receipt = await aliceSocket.WaitForTypeAsync("read_receipt");
        Assert.Equal(two, receipt.GetProperty("message_id").GetGuid());
        Assert.Equal(bob.Id, receipt.GetProperty("user_id").GetGuid());

        await bobSocket.SendAsync(new { type = "read_receipt", message_id = one }); // older: ignored
        await Task.Delay(300);
        using var http = cluster.Http(0, alice);
        var receipts = await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/read_receipts");
        Assert.Equal(two, Assert.Single(receipts!).GetProperty("message_id").GetGuid());
        Assert.Single(aliceSocket.Frames, f => f.GetProperty("type").GetString() == "read_receipt");
    }

    [Fact]
    public async Task A_message_whose_publish_never_arrived_is_filled_in_from_postgres_in_order()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis);
        var alice = await cluster.CreateUserAsync("alice");
        var roomId = await cluster.CreateRoomAsync(alice);
        await using var socket = await cluster.ConnectAsync(1, roomId, alice);
        await socket.SendAsync(Chat("first"));
        await socket.WaitForChatsAsync(1);

        // Stored but never published, as when an instance dies between commit and PUBLISH.
        await using var dataSource = NpgsqlDataSource.Create(cluster.DatabaseConnectionString);
        var store = new ChatStore(dataSource, TimeProvider.System);
        await store.InsertAsync(new NewChatMessage(Guid.NewGuid(), roomId, alice.Id, "alice", "text", "\"lost publish\"", null), CancellationToken.None);
        await socket.SendAsync(Chat("third"));
        await socket.WaitForChatsAsync(3);
        Assert.Equal(["first", "lost publish", "third"], socket.Chats.Select(c => c.GetProperty("content").GetString()));
        Assert.Equal([1L, 2L, 3L], socket.Chats.Select(c => c.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task Clients_on_both_instances_get_every_message_once_and_in_order_across_a_redis_restart_that_lost_everything()
    {
        await using var cluster = await ChatCluster.StartAsync(postgres, redis, settings: Unlimited);
        var alice = await cluster.CreateUserAsync("alice");
        var bob = await cluster.CreateUserAsync("bob");
        var roomId = await cluster.CreateRoomAsync(alice, bob);
        await using var aliceSocket = await cluster.ConnectAsync(0, roomId, alice);
        await using var bobSocket = await cluster.ConnectAsync(1, roomId, bob);
        await aliceSocket.WaitForTypeAsync("presence");
        await bobSocket.WaitForTypeAsync("presence");

        for (var n = 0; n < 3; n++)
        {
            await SendUntilStoredAsync(aliceSocket, $"alice before {n}");
            await SendUntilStoredAsync(bobSocket, $"bob before {n}");
        }
        // Stored while Redis was away, so its publish never reached anyone, and no later message reveals the gap: only
        // catching up from Postgres after the reconnect delivers it.
        await using (var dataSource = NpgsqlDataSource.Create(cluster.DatabaseConnectionString))
        {
            var store = new ChatStore(dataSource, TimeProvider.System);
            await store.InsertAsync(new NewChatMessage(Guid.NewGuid(), roomId, alice.Id, "alice", "text", "\"during the outage\"", null), CancellationToken.None);
        }
        // Empty: the subscriptions, presence and rate-limit state are gone.
        await redis.RestartAsync(discardData: true);
        await aliceSocket.WaitForChatsAsync(7, TimeSpan.FromSeconds(30));
        await bobSocket.WaitForChatsAsync(7, TimeSpan.FromSeconds(30));
        for (var n = 0; n < 3; n++)
        {
            await SendUntilStoredAsync(aliceSocket, $"alice after {n}");
            await SendUntilStoredAsync(bobSocket, $"bob after {n}");
        }

        const int Total = 13;
        await aliceSocket.WaitForChatsAsync(Total, TimeSpan.FromSeconds(30));
        await bobSocket.WaitForChatsAsync(Total, TimeSpan.FromSeconds(30));
        await Task.Delay(500); // a duplicate would arrive by now
        using var http = cluster.Http(0, alice);
        var history = (await http.GetFromJsonAsync<JsonElement[]>($"/chat/{roomId}/history?limit=100"))!;
        Assert.Equal(Enumerable.Range(1, Total).Select(n => (long)n), history.Select(m => m.GetProperty("seq").GetInt64()));
        var stored = history.Select(m => m.GetProperty("id").GetGuid()).ToList();
        Assert.Equal(stored, aliceSocket.Chats.Select(m => m.GetProperty("id").GetGuid()));
        Assert.Equal(stored, bobSocket.Chats.Select(m => m.GetProperty("id").GetGuid()));
    }

    /// <summary>
    /// Sends with a fixed id until the sender sees its message, resending (idempotent by id) after an
    /// <c>unavailable</c> error or silence, as a client does while the server cannot reach Redis.
    /// </summary>
    private static async Task SendUntilStoredAsync(ChatSocket socket, string content)
    {
        var id = Guid.NewGuid();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (true)
        {
            var errors = socket.Frames.Count(f => IsErrorFor(f, id));
            await socket.SendAsync(Chat(content, id));
            try
            {
                var answer = await socket.WaitForAsync(f => f.GetProperty("type").GetString() == "chat" && f.GetProperty("id").GetGuid() == id
                    || socket.Frames.Count(g => IsErrorFor(g, id)) > errors, TimeSpan.FromSeconds(5), $"message {content}");
                if (answer.GetProperty("type").GetString() == "chat")
                {
                    return;
                }
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{content}' was never stored; frames: {string.Join("\n", socket.Frames.Select(f => f.GetRawText()))}");
            }
            await Task.Delay(200);
        }
    }

    private static bool IsErrorFor(JsonElement frame, Guid id) =>
        frame.GetProperty("type").GetString() == "error" && frame.TryGetProperty("id", out var errorId)
        && errorId.ValueKind == JsonValueKind.String && errorId.GetGuid() == id;
}
