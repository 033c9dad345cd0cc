using Conductor.Hosting.ApplicationModel;
using Conductor.Hosting.Provisioning;
using Microsoft.Extensions.Logging;

namespace Conductor.Hosting.Orchestration;

/// <summary>Redis in run mode: a local redis-server, or the server named by <c>ConnectionStrings__redis</c>.</summary>
internal sealed class RedisRuntime(RedisResource resource, string dataDirectory, string password, string? externalConnectionString, ILogger logger)
    : ResourceRuntime(resource, logger)
{
    private LocalRedisServer? _server;

    public string ConnectionString => externalConnectionString ?? _server?.ConnectionString
        ?? throw new InvalidOperationException("Redis has not started.");

    public override int? Pid => _server?.ProcessId;

    public override IReadOnlyList<ResourceEndpoint> Endpoints =>
        externalConnectionString is not null ? [new("tcp", $"tcp://{ExternalHostAndPort().Host}:{ExternalHostAndPort().Port}")]
        : _server is null ? [] : [new("tcp", $"tcp://127.0.0.1:{_server.Port}")];

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (externalConnectionString is not null)
        {
            SetState(ResourceState.Running);
            return;
        }
        SetState(ResourceState.Starting);
        if (_server is null)
        {
            _server = await LocalRedisServer.StartAsync(new LocalRedisOptions(dataDirectory, password), Logger, cancellationToken).ConfigureAwait(false);
            _server.Console.LineAppended += line => Console.Append(line.IsError, line.Text);
        }
        else
        {
            await _server.RestartAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        StartedAt = DateTimeOffset.UtcNow;
        SetState(ResourceState.Running);
        WatchExit(_server);
    }

    private void WatchExit(LocalRedisServer server)
    {
        var pid = server.ProcessId;
        ReportUnexpectedExit(server.Exited, () => server.ProcessId == pid, "redis-server");
    }

    public override async Task StopAsync()
    {
        if (_server is null)
        {
            return;
        }
        SetState(ResourceState.Stopping);
        await _server.StopAsync().ConfigureAwait(false);
        SetState(ResourceState.Stopped);
    }

    public override Task<bool> CheckHealthAsync(CancellationToken cancellationToken) =>
        RedisProbe.PingAsync(ConnectionString, cancellationToken);

    private (string Host, int Port) ExternalHostAndPort()
    {
        var endpoint = externalConnectionString!.Split(',')[0].Trim();
        var colon = endpoint.LastIndexOf(':');
        return colon > 0 && int.TryParse(endpoint[(colon + 1)..], out var port) ? (endpoint[..colon], port) : (endpoint, RedisResource.TargetPort);
    }
}
