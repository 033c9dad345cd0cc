using Conductor.Data;

// The GitWorker is a worker service that also listens on HTTP, only so that the AppHost and the platform can
// probe /health and /alive before anything that waits for it starts.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddConductorDatabase();

var app = builder.Build();
app.UseServiceDefaults();
app.MapDefaultEndpoints();
app.Run();
