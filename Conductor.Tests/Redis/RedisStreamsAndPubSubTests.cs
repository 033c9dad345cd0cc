using System.Diagnostics;
using System.Threading.Channels;
using Conductor.Redis;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Redis;

[Collection(RedisCollection.Name)]
public sealed class RedisStreamsAndPubSubTests(RedisServerFixture server) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly string _prefix = $"test:{Guid.NewGuid():N}:";
    private readonly List<IAsyncDisposable> _disposables = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }
    }

    private RedisConnectionOptions Options(string protocol) => RedisConnectionOptions.Parse($"{server.ConnectionString},protocol={protocol}");

    private async Task<RedisClient> ConnectAsync(string protocol = "resp3")
    {
        var client = await RedisClient.ConnectAsync(Options(protocol));
        _disposables.Add(client);
        return client;
    }

    private async Task<RedisSubscriber> SubscriberAsync(string protocol = "resp3")
    {
        var subscriber = await RedisSubscriber.ConnectAsync(Options(protocol));
        _disposables.Add(subscriber);
        return subscriber;
    }

    [Theory]
    [InlineData("resp3")]
    [InlineData("resp2")]
    public async Task Consumer_group_end_to_end(string protocol)
    {
        var client = await ConnectAsync(protocol);
        var stream = _prefix + "jobs";

        Assert.True(await client.StreamCreateGroupAsync(stream, "workers", "$"));
        Assert.False(await client.StreamCreateGroupAsync(stream, "workers", "$")); // BUSYGROUP tolerated
        Assert.Empty(await client.StreamReadGroupAsync(stream, "workers", "alice", count: 10));

        // XREADGROUP BLOCK waits on its own connection while the shared one keeps answering.
        var blocked = client.StreamReadGroupAsync(stream, "workers", "alice", count: 10, block: TimeSpan.FromSeconds(5)).AsTask();
        await Task.Delay(100);
        Assert.False(blocked.IsCompleted);
        var ping = Stopwatch.StartNew();
        await client.PingAsync();
        Assert.True(ping.ElapsedMilliseconds < 500, $"the shared connection stalled for {ping.ElapsedMilliseconds} ms");
        var firstId = await client.StreamAddAsync(stream, [new("job", "clone"), new("payload", new byte[] { 9, 8, 7 })]);

        var delivered = await blocked.WaitAsync(Patience);
        var entry = Assert.Single(delivered);
        Assert.Equal(firstId, entry.Id);
        Assert.Equal("clone", entry["job"].ToString());
        Assert.Equal(new byte[] { 9, 8, 7 }, entry["payload"].ToBytes());

        var secondId = await client.StreamAddAsync(stream, [new("job", "push")]);
        Assert.Single(await client.StreamReadGroupAsync(stream, "workers", "alice", count: 10, block: TimeSpan.FromMilliseconds(500)));

        // An empty BLOCK returns nothing once it expires.
        Assert.Empty(await client.StreamReadGroupAsync(stream, "workers", "alice", count: 10, block: TimeSpan.FromMilliseconds(100)));

        var summary = await client.StreamPendingAsync(stream, "workers");
        Assert.Equal(2, summary.Count);
        Assert.Equal(firstId, summary.LowestId);
        Assert.Equal(secondId, summary.HighestId);
        Assert.Equal([new StreamConsumerPending("alice", 2)], summary.Consumers);

        Assert.Equal(1, await client.StreamAcknowledgeAsync(stream, "workers", [firstId]));
        var pending = Assert.Single(await client.StreamPendingEntriesAsync(stream, "workers", count: 10));
        Assert.Equal(secondId, pending.Id);
        Assert.Equal("alice", pending.Consumer);
        Assert.Equal(1, pending.DeliveryCount);
        Assert.Empty(await client.StreamPendingEntriesAsync(stream, "workers", count: 10, minIdle: TimeSpan.FromHours(1)));
        Assert.Single(await client.StreamPendingEntriesAsync(stream, "workers", count: 10, consumer: "alice"));

        // alice went quiet: bob claims what she left pending.
        await Task.Delay(50);
        var claimed = await client.StreamAutoClaimAsync(stream, "workers", "bob", TimeSpan.FromMilliseconds(10), count: 10);
        Assert.Equal("0-0", claimed.NextStartId);
        Assert.Equal(secondId, Assert.Single(claimed.Claimed).Id);
        Assert.Equal("push", claimed.Claimed[0]["job"].ToString());
        Assert.Empty(claimed.DeletedIds);
        Assert.Equal("bob", Assert.Single(await client.StreamPendingEntriesAsync(stream, "workers", count: 10)).Consumer);
        Assert.Equal(2, (await client.StreamPendingEntriesAsync(stream, "workers", count: 10))[0].DeliveryCount);
        Assert.Equal(1, await client.StreamAcknowledgeAsync(stream, "workers", [secondId]));
        Assert.Equal(0, (await client.StreamPendingAsync(stream, "workers")).Count);

        Assert.Equal(2, await client.StreamLengthAsync(stream));
        Assert.Equal([firstId, secondId], (await client.StreamRangeAsync(stream)).Select(e => e.Id));
        Assert.Equal([firstId], (await client.StreamRangeAsync(stream, count: 1)).Select(e => e.Id));
        Assert.Equal(1, await client.StreamDeleteAsync(stream, [firstId]));
        Assert.Equal(1, await client.StreamLengthAsync(stream));
    }

    [Fact]
    public async Task XAUTOCLAIM_reports_entries_deleted_while_pending()
    {
        var client = await ConnectAsync();
        var stream = _prefix + "gone";
        await client.StreamCreateGroupAsync(stream, "g", "0");
        var id = await client.StreamAddAsync(stream, [new("f", "v")]);
        await client.StreamReadGroupAsync(stream, "g", "c1", count: 1);
        await client.StreamDeleteAsync(stream, [id]);

        var claimed = await client.StreamAutoClaimAsync(stream, "g", "c2", TimeSpan.Zero);

        Assert.Empty(claimed.Claimed);
        Assert.Equal([id], claimed.DeletedIds);
    }

    [Fact]
    public async Task XADD_trims_with_MAXLEN_exact_and_approximate()
    {
        var client = await ConnectAsync();
        var exact = _prefix + "exact";
        var approximate = _prefix + "approx";
        for (var i = 0; i < 300; i++)
        {
            await client.StreamAddAsync(exact, [new("i", i)], new StreamTrim(10, Approximate: false));
            await client.StreamAddAsync(approximate, [new("i", i)], new StreamTrim(10));
        }

        Assert.Equal(10, await client.StreamLengthAsync(exact));
        Assert.InRange(await client.StreamLengthAsync(approximate), 10, 200);
        Assert.Equal("299", (await client.StreamRangeAsync(exact, "-", "+"))[^1]["i"].ToString());
    }

    [Fact]
    public async Task A_cancelled_blocking_read_does_not_disturb_the_next_one()
    {
        var client = await ConnectAsync();
        var stream = _prefix + "cancel";
        await client.StreamCreateGroupAsync(stream, "g", "$");
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await client.StreamReadGroupAsync(stream, "g", "c", 1, TimeSpan.FromSeconds(30), cancellationToken: cancellation.Token));

        var next = client.StreamReadGroupAsync(stream, "g", "c", 1, TimeSpan.FromSeconds(5)).AsTask();
        await Task.Delay(100);
        await client.StreamAddAsync(stream, [new("f", "v")]);
        Assert.Single(await next.WaitAsync(Patience));
    }

    [Theory]
    [InlineData("resp3")]
    [InlineData("resp2")]
    public async Task Pub_sub_with_channels_and_patterns(string protocol)
    {
        var client = await ConnectAsync();
        var subscriber = await SubscriberAsync(protocol);
        var channel = _prefix + "room:1";
        var exact = Channel.CreateUnbounded<RedisChannelMessage>();
        var matched = Channel.CreateUnbounded<RedisChannelMessage>();

        var exactSubscription = await subscriber.SubscribeAsync(channel, (message, _) => exact.Writer.WriteAsync(message).AsTask());
        var patternSubscription = await subscriber.SubscribePatternAsync(_prefix + "room:*", (message, _) => matched.Writer.WriteAsync(message).AsTask());

        Assert.Equal(2, await client.PublishAsync(channel, "hello ✓"));
        Assert.Equal(1, await client.PublishAsync(_prefix + "room:2", new byte[] { 0, 255 }));

        var direct = await exact.Reader.ReadAsync().AsTask().WaitAsync(Patience);
        Assert.Equal(channel, direct.Channel);
        Assert.Equal("hello ✓", direct.Text);
        Assert.Null(direct.Pattern);

        var first = await matched.Reader.ReadAsync().AsTask().WaitAsync(Patience);
        var second = await matched.Reader.ReadAsync().AsTask().WaitAsync(Patience);
        Assert.Equal((channel, "hello ✓", _prefix + "room:*"), (first.Channel, first.Text, first.Pattern));
        Assert.Equal(new byte[] { 0, 255 }, second.Bytes);

        await exactSubscription.DisposeAsync();
        Assert.Equal(1, await client.PublishAsync(channel, "after unsubscribe"));
        await patternSubscription.DisposeAsync();
        Assert.Equal(0, await client.PublishAsync(channel, "nobody"));
    }

    [Fact]
    public async Task Handlers_sharing_a_channel_each_get_every_message_in_order_and_failures_are_contained()
    {
        var client = await ConnectAsync();
        var subscriber = await SubscriberAsync();
        var channel = _prefix + "shared";
        var first = Channel.CreateUnbounded<string>();
        var second = Channel.CreateUnbounded<string>();

        await using var a = await subscriber.SubscribeAsync(channel, (m, _) => first.Writer.WriteAsync(m.Text!).AsTask());
        await using var b = await subscriber.SubscribeAsync(channel, async (m, _) =>
        {
            await second.Writer.WriteAsync(m.Text!);
            throw new InvalidOperationException("a handler that fails must not stop delivery");
        });

        for (var i = 0; i < 100; i++)
        {
            await client.PublishAsync(channel, i);
        }

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), await first.Reader.ReadAsync().AsTask().WaitAsync(Patience));
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), await second.Reader.ReadAsync().AsTask().WaitAsync(Patience));
        }
    }
}
