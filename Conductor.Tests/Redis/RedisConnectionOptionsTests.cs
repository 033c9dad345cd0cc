using Conductor.Redis;

namespace Conductor.Tests.Redis;

public sealed class RedisConnectionOptionsTests
{
    [Fact]
    public void Parses_every_supported_key()
    {
        var options = RedisConnectionOptions.Parse(
            "cache.internal:6380,password=s3cr=t,user=worker,defaultDatabase=3,connectTimeout=1500,syncTimeout=250,abortConnect=false,ssl=true,name=api");

        Assert.Equal([new RedisEndpoint("cache.internal", 6380)], options.Endpoints);
        Assert.Equal("s3cr=t", options.Password);
        Assert.Equal("worker", options.User);
        Assert.Equal(3, options.DefaultDatabase);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.SyncTimeout);
        Assert.False(options.AbortOnConnectFail);
        Assert.True(options.Ssl);
        Assert.Equal("api", options.ClientName);
    }

    [Fact]
    public void Applies_defaults_and_ignores_unknown_keys()
    {
        var options = RedisConnectionOptions.Parse("localhost, allowAdmin=true ,keepAlive=60,SYNCTIMEOUT=100");

        Assert.Equal([new RedisEndpoint("localhost", 6379)], options.Endpoints);
        Assert.Null(options.Password);
        Assert.Equal(0, options.DefaultDatabase);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.SyncTimeout);
        Assert.True(options.AbortOnConnectFail);
        Assert.False(options.Ssl);
    }

    [Theory]
    [InlineData("[::1]:7000", "::1", 7000)]
    [InlineData("::1", "::1", 6379)]
    [InlineData("127.0.0.1:1", "127.0.0.1", 1)]
    public void Parses_endpoints(string text, string host, int port) =>
        Assert.Equal(new RedisEndpoint(host, port), RedisConnectionOptions.Parse(text).Endpoints.Single());

    [Theory]
    [InlineData("", "no endpoint")]
    [InlineData("password=x", "no endpoint")]
    [InlineData("localhost:notaport", "port")]
    [InlineData("localhost:70000", "port")]
    [InlineData(":6379", "host is empty")]
    [InlineData("localhost,defaultDatabase=-1", "defaultDatabase")]
    [InlineData("localhost,defaultDatabase=one", "defaultDatabase")]
    [InlineData("localhost,connectTimeout=0", "connectTimeout")]
    [InlineData("localhost,syncTimeout=soon", "syncTimeout")]
    [InlineData("localhost,abortConnect=maybe", "abortConnect")]
    [InlineData("localhost,ssl=yes", "ssl")]
    public void Rejects_bad_values_with_a_clear_format_exception(string connectionString, string mentioned)
    {
        var exception = Assert.Throws<FormatException>(() => RedisConnectionOptions.Parse(connectionString));

        Assert.Contains(mentioned, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Never_shows_the_password()
    {
        var options = RedisConnectionOptions.Parse("localhost:6379,password=hunter2-secret,user=app");

        Assert.DoesNotContain("hunter2-secret", options.ToString(), StringComparison.Ordinal);
        Assert.Contains("password=*****", options.ToString(), StringComparison.Ordinal);
        Assert.Contains("user=app", options.ToString(), StringComparison.Ordinal);
        await using var client = RedisClient.Create(options with { Endpoints = [new RedisEndpoint("127.0.0.1", Conductor.LocalServers.FreePort.Next())] });
        Assert.DoesNotContain("hunter2-secret", client.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Round_trips_through_its_text_without_the_password()
    {
        var options = RedisConnectionOptions.Parse("127.0.0.1:7001,defaultDatabase=2,syncTimeout=900,abortConnect=false");

        Assert.Equal(options, RedisConnectionOptions.Parse(options.ToString()) with { Endpoints = options.Endpoints });
    }

    [Fact]
    public void Backoff_grows_exponentially_with_jitter_up_to_the_cap()
    {
        var baseDelay = TimeSpan.FromMilliseconds(100);
        var cap = TimeSpan.FromSeconds(2);
        for (var attempt = 1; attempt <= 12; attempt++)
        {
            var ceiling = Math.Min(cap.TotalMilliseconds, 100 * Math.Pow(2, attempt - 1));
            var delay = Conductor.Redis.Connections.ReconnectBackoff.Delay(attempt, baseDelay, cap).TotalMilliseconds;
            Assert.InRange(delay, ceiling / 2, ceiling);
        }
    }
}
