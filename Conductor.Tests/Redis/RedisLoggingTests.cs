using System.Collections.Concurrent;
using Conductor.Redis;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Conductor.Tests.Redis;

[Collection(RedisCollection.Name)]
public sealed class RedisLoggingTests(RedisServerFixture server)
{
    [Fact]
    public async Task Connection_events_are_logged_without_the_password()
    {
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        const string wrongPassword = "wrong-password-that-must-not-leak";

        await using (var good = await RedisClient.ConnectAsync(server.ConnectionString, loggerFactory))
        {
            await good.PingAsync();
        }
        var failing = RedisConnectionOptions.Parse($"127.0.0.1:{server.Port},password={wrongPassword},abortConnect=false,syncTimeout=400");
        await using (var bad = await RedisClient.ConnectAsync(failing, loggerFactory))
        {
            var error = await Assert.ThrowsAsync<RedisConnectionException>(async () => await bad.PingAsync());
            Assert.DoesNotContain(wrongPassword, error.ToString(), StringComparison.Ordinal);
        }

        Assert.Contains(logs.Entries, entry => entry.Contains("established", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, entry => entry.Contains("WRONGPASS", StringComparison.Ordinal));
        Assert.All(logs.Entries, entry =>
        {
            Assert.DoesNotContain(wrongPassword, entry, StringComparison.Ordinal);
            Assert.DoesNotContain(server.Password, entry, StringComparison.Ordinal);
        });
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue($"{logLevel}: {formatter(state, exception)} {state} {exception}");

        public void Dispose()
        {
        }
    }
}
