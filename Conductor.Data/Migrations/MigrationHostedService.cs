using Microsoft.Extensions.Hosting;

namespace Conductor.Data.Migrations;

/// <summary>
/// Brings the schema up to date before the service does anything else: hosted services start, in registration
/// order, before Kestrel accepts a request or a later background service runs. An exception here stops the host.
/// </summary>
internal sealed class MigrationHostedService(MigrationRunner runner) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => runner.RunAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
