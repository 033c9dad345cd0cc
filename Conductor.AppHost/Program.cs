using Conductor.AppHost;
using Conductor.LocalServers;

try
{
    var builder = DistributedApplication.CreateBuilder(args);
    ConductorModel.Define(builder);
    await builder.Build().RunAsync();
}
catch (ProvisioningException ex)
{
    // A second run on the same data folder, or a server that cannot be installed: one line that says what to do.
    Console.Error.WriteLine(ex.Message);
    return 1;
}
return 0;
