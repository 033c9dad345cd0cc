using Conductor.AppHost;
using Conductor.LocalServers;

var builder = DistributedApplication.CreateBuilder(args);
ConductorModel.Define(builder);

try
{
    await builder.Build().RunAsync();
}
catch (ProvisioningException ex)
{
    // A second run on the same data folder, or a server that cannot be installed: one line that says what to do.
    Console.Error.WriteLine(ex.Message);
    return 1;
}
return 0;
