using System.Diagnostics;
using System.Text;
using Conductor.Redis;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Redis;

/// <summary>Typed commands, pipelining, cancellation and authentication against a real redis-server, in RESP3 and RESP2.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisClientTests(RedisServerFixture server) : IAsyncLifetime
{
    private readonly string _prefix = $"test:{Guid.NewGuid():N}:";
    private readonly List<RedisClient> _clients = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
    }

    private async Task<RedisClient> ConnectAsync(string protocol = "resp3", Func<RedisConnectionOptions, RedisConnectionOptions>? configure = null)
    {
        var options = RedisConnectionOptions.Parse($"{server.ConnectionString},protocol={protocol}");
        var client = await RedisClient.ConnectAsync(configure?.Invoke(options) ?? options);
        _clients.Add(client);
        return client;
    }

    [Theory]
    [InlineData("resp3", 3)]
    [InlineData("resp2", 2)]
    public async Task Negotiates_the_protocol(string protocol, int expected)
    {
        var client = await ConnectAsync(protocol);

        Assert.Equal(expected, client.Protocol);
        Assert.True(client.IsConnected);
        Assert.True(await client.PingAsync() < TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData("resp3")]
    [InlineData("resp2")]
    public async Task Strings_and_keys(string protocol)
    {
        var client = await ConnectAsync(protocol);
        var key = _prefix + "s";

        Assert.True((await client.GetAsync(key)).IsNull);
        Assert.True(await client.SetAsync(key, "héllo ✓"));
        Assert.Equal("héllo ✓", (await client.GetAsync(key)).ToString());

        Assert.False(await client.SetAsync(key, "other", condition: SetCondition.WhenNotExists));
        Assert.True(await client.SetAsync(key, "replaced", condition: SetCondition.WhenExists));
        Assert.False(await client.SetAsync(_prefix + "missing", "x", condition: SetCondition.WhenExists));
        Assert.Equal("replaced", (await client.GetAsync(key)).ToString());

        byte[] binary = [0, 1, 2, 255, 13, 10, 0x80];
        Assert.True(await client.SetAsync(_prefix + "bin", binary));
        Assert.Equal(binary, (await client.GetAsync(_prefix + "bin")).ToBytes());

        Assert.True(await client.SetAsync(_prefix + "ex", "v", TimeSpan.FromSeconds(100), SetCondition.WhenNotExists));
        Assert.InRange((await client.TimeToLiveAsync(_prefix + "ex"))!.Value, TimeSpan.FromSeconds(98), TimeSpan.FromSeconds(100));
        Assert.True(await client.SetAsync(_prefix + "px", "v", TimeSpan.FromMilliseconds(1500)));
        Assert.InRange((await client.TimeToLiveAsync(_prefix + "px"))!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(2));
        Assert.Null(await client.TimeToLiveAsync(key)); // no expiry
        Assert.Null(await client.TimeToLiveAsync(_prefix + "missing"));

        Assert.True(await client.ExpireAsync(key, TimeSpan.FromSeconds(50)));
        Assert.InRange((await client.TimeToLiveAsync(key))!.Value, TimeSpan.FromSeconds(48), TimeSpan.FromSeconds(50));
        Assert.True(await client.ExpireAsync(key, TimeSpan.FromMilliseconds(30_500)));
        Assert.InRange((await client.TimeToLiveAsync(key))!.Value, TimeSpan.FromSeconds(28), TimeSpan.FromSeconds(31));
        Assert.False(await client.ExpireAsync(_prefix + "missing", TimeSpan.FromSeconds(5)));

        Assert.Equal(1, await client.IncrementAsync(_prefix + "n"));
        Assert.Equal(11, await client.IncrementAsync(_prefix + "n", 10));
        Assert.Equal(6, await client.IncrementAsync(_prefix + "n", -5));

        Assert.Equal(2, await client.ExistsAsync([key, _prefix + "n", _prefix + "missing"]));
        Assert.Equal(2, await client.DeleteAsync([key, _prefix + "n", _prefix + "missing"]));
        Assert.Equal(0, await client.ExistsAsync([key]));

        var error = await Assert.ThrowsAsync<RedisServerException>(async () => await client.IncrementAsync(_prefix + "bin"));
        Assert.Equal("ERR", error.ErrorCode);
        Assert.Equal("INCR", error.Command);
    }

    [Theory]
    [InlineData("resp3")]
    [InlineData("resp2")]
    public async Task Hashes(string protocol)
    {
        var client = await ConnectAsync(protocol);
        var key = _prefix + "h";

        Assert.Equal(2, await client.HashSetAsync(key, [new("a", "1"), new("b", new byte[] { 1, 2 })]));
        Assert.Equal(0, await client.HashSetAsync(key, [new("a", "one")]));
        Assert.Equal("one", (await client.HashGetAsync(key, "a")).ToString());
        Assert.True((await client.HashGetAsync(key, "zz")).IsNull);
        Assert.Equal(5, await client.HashIncrementAsync(key, "count", 5));
        Assert.Equal(4, await client.HashIncrementAsync(key, "count", -1));

        var all = await client.HashGetAllAsync(key);
        Assert.Equal(["a", "b", "count"], all.Keys.Order());
        Assert.Equal(new byte[] { 1, 2 }, all["b"].ToBytes());
        Assert.Equal(4, all["count"].ToInt64());

        Assert.Equal(1, await client.HashDeleteAsync(key, ["a", "nope"]));
        Assert.Empty(await client.HashGetAllAsync(_prefix + "none"));
    }

    [Fact]
    public async Task Generic_commands_return_typed_replies()
    {
        var client = await ConnectAsync();

        // Would change the shared connection's state under every other caller's feet.
        Assert.Throws<ArgumentException>(() => client.ExecuteAsync("HELLO", 2));
        Assert.Throws<ArgumentException>(() => client.ExecuteAsync("subscribe", "ch"));

        await client.ExecuteAsync("RPUSH", _prefix + "l", "a", "b", 3);
        var list = await client.ExecuteAsync("LRANGE", _prefix + "l", 0, -1);
        Assert.Equal(["a", "b", "3"], list.Elements.Select(e => e.AsString()));

        var info = await client.ExecuteAsync("CLIENT INFO"); // a verbatim string in RESP3
        Assert.Contains("resp=3", info.AsString(), StringComparison.Ordinal);

        var score = await client.ExecuteAsync("ZADD", _prefix + "z", 1.5, "m");
        Assert.Equal(1, score.AsInt64());
        Assert.Equal(1.5, (await client.ExecuteAsync("ZSCORE", _prefix + "z", "m")).AsDouble());
    }

    [Theory]
    [InlineData("resp3")]
    [InlineData("resp2")]
    public async Task Scripts_load_once_and_fall_back_from_NOSCRIPT_to_EVAL(string protocol)
    {
        var client = await ConnectAsync(protocol);
        const string source = "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}";

        var evaluated = await client.EvalAsync(source, [_prefix + "k"], ["arg"]);
        Assert.Equal([_prefix + "k", "arg", "1"], evaluated.Elements.Select(e => e.AsString()));

        var script = new RedisScript(source);
        var sha = await client.ScriptLoadAsync(source);
        Assert.Equal(script.Sha1, sha);
        Assert.Equal(2, (await client.EvalShaAsync(sha, [_prefix + "k"], ["x"])).Elements[2].AsInt64());
        Assert.Equal(3, (await script.EvaluateAsync(client, [_prefix + "k"], ["x"])).Elements[2].AsInt64());

        await client.ExecuteAsync("SCRIPT", "FLUSH");
        var missing = await Assert.ThrowsAsync<RedisServerException>(async () => await client.EvalShaAsync(sha, [_prefix + "k"], []));
        Assert.Equal("NOSCRIPT", missing.ErrorCode);

        Assert.Equal(4, (await script.EvaluateAsync(client, [_prefix + "k"], ["x"])).Elements[2].AsInt64());
        Assert.Equal(5, (await client.EvalShaAsync(sha, [_prefix + "k"], ["x"])).Elements[2].AsInt64()); // EVAL cached it again
    }

    [Fact]
    public async Task Pipelines_many_concurrent_commands_on_one_connection()
    {
        var client = await ConnectAsync();
        const int callers = 5000;

        var results = await Task.WhenAll(Enumerable.Range(0, callers).Select(async i =>
        {
            await client.SetAsync($"{_prefix}p:{i}", $"value-{i}");
            var counter = await client.IncrementAsync(_prefix + "counter");
            var value = await client.GetAsync($"{_prefix}p:{i}");
            return (i, value: value.ToString(), counter);
        }));

        Assert.All(results, result => Assert.Equal($"value-{result.i}", result.value));
        Assert.Equal(Enumerable.Range(1, callers).Select(n => (long)n), results.Select(r => r.counter).Order());
        // Everything went over one socket: the server still sees the first connection, commands counted on it.
        var info = (await client.ExecuteAsync("CLIENT", "INFO")).AsString()!;
        Assert.Contains("cmd=client|info", info, StringComparison.Ordinal);
    }

    // Busy-waits inside the server for ARGV[1] ms, holding the connection's reply back that long.
    private const string SlowScript =
        "local t = redis.call('TIME'); local start = t[1] * 1000 + t[2] / 1000; " +
        "while true do local n = redis.call('TIME'); if n[1] * 1000 + n[2] / 1000 - start > tonumber(ARGV[1]) then break end end; return 'slept'";

    [Fact]
    public async Task A_cancelled_command_returns_at_once_and_its_reply_is_discarded_in_order()
    {
        var client = await ConnectAsync();
        await client.SetAsync(_prefix + "after", "still in sync");
        using var cancellation = new CancellationTokenSource();

        var stopwatch = Stopwatch.StartNew();
        var slow = client.EvalAsync(SlowScript, [], [400], cancellation.Token).AsTask();
        var queuedBehind = client.GetAsync(_prefix + "after").AsTask();
        cancellation.CancelAfter(50);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        Assert.True(stopwatch.ElapsedMilliseconds < 350, $"cancellation took {stopwatch.ElapsedMilliseconds} ms");
        Assert.Equal("still in sync", (await queuedBehind).ToString());
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, (await client.ExecuteAsync("ECHO", i)).AsInt64());
        }

        // Cancelled before it is sent: it never reaches the server.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.IncrementAsync(_prefix + "never", 1, cancelled.Token));
        Assert.True((await client.GetAsync(_prefix + "never")).IsNull);
    }

    [Fact]
    public async Task A_command_without_a_reply_in_time_times_out_and_the_stream_stays_in_sync()
    {
        var client = await ConnectAsync(configure: options => options with { SyncTimeout = TimeSpan.FromMilliseconds(150) });

        var timeout = await Assert.ThrowsAsync<RedisTimeoutException>(async () => await client.EvalAsync(SlowScript, [], [600]));
        Assert.Contains("EVAL", timeout.Message, StringComparison.Ordinal);

        await Task.Delay(600);
        Assert.Equal("PONG", (await client.ExecuteAsync("PING")).AsString());
        Assert.Equal("x", (await client.ExecuteAsync("ECHO", "x")).AsString());
    }

    [Theory]
    [InlineData("resp3")]
    [InlineData("resp2")]
    public async Task A_wrong_password_gives_a_clear_error_without_the_password(string protocol)
    {
        const string wrongPassword = "definitely-not-the-password";
        var options = RedisConnectionOptions.Parse($"127.0.0.1:{server.Port},password={wrongPassword},protocol={protocol}");

        var error = await Assert.ThrowsAsync<RedisAuthenticationException>(() => RedisClient.ConnectAsync(options));

        Assert.Contains("WRONGPASS", error.Message, StringComparison.Ordinal);
        Assert.Contains("authentication failed", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(wrongPassword, error.ToString(), StringComparison.Ordinal);
        Assert.IsAssignableFrom<RedisConnectionException>(error);
    }

    [Fact]
    public async Task A_missing_password_says_that_one_is_needed()
    {
        var options = RedisConnectionOptions.Parse($"127.0.0.1:{server.Port}");

        var error = await Assert.ThrowsAsync<RedisAuthenticationException>(() => RedisClient.ConnectAsync(options));

        Assert.Contains("requires authentication", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_abortConnect_false_commands_fail_clearly_when_no_connection_comes()
    {
        var port = Conductor.LocalServers.FreePort.Next();
        await using var client = await RedisClient.ConnectAsync($"127.0.0.1:{port},abortConnect=false,syncTimeout=300,connectTimeout=200");

        var error = await Assert.ThrowsAsync<RedisConnectionException>(async () => await client.GetAsync("k"));

        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("last error", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Selects_the_default_database()
    {
        var client = await ConnectAsync(configure: options => options with { DefaultDatabase = 5 });
        await client.SetAsync(_prefix + "db", "five");

        var info = (await client.ExecuteAsync("CLIENT", "INFO")).AsString()!;
        Assert.Contains(" db=5 ", info, StringComparison.Ordinal);
        var other = await ConnectAsync();
        Assert.True((await other.GetAsync(_prefix + "db")).IsNull);
    }

    [Fact]
    public async Task Large_values_cross_many_reads_and_writes()
    {
        var client = await ConnectAsync();
        var large = new byte[3 * 1024 * 1024 + 7];
        Random.Shared.NextBytes(large);
        var text = new string('é', 200_000);

        await Task.WhenAll(client.SetAsync(_prefix + "large", large).AsTask(), client.SetAsync(_prefix + "text", text).AsTask());

        Assert.Equal(large, (await client.GetAsync(_prefix + "large")).ToBytes());
        Assert.Equal(text, (await client.GetAsync(_prefix + "text")).ToString());
        Assert.Equal(Encoding.UTF8.GetByteCount(text), (await client.ExecuteAsync("STRLEN", _prefix + "text")).AsInt64());
    }
}
