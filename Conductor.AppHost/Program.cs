using Conductor.AppHost;
using Conductor.Hosting;

var builder = DistributedApplicationBuilder.Create(args);
ConductorModel.Define(builder);
await using var app = builder.Build();
return await app.RunAsync();
