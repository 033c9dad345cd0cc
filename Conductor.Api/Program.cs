using Conductor.Api.Chat;
using Conductor.Api.Jobs;
using Conductor.Data;
using Conductor.Jobs;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddConductorDatabase();
builder.AddConductorMigrations();
builder.AddConductorRedis();
builder.AddConductorJobQueue();
builder.AddConductorChat();
builder.Services.AddOpenApi();
// Contracts are snake_case on the wire (room_id, created_at), as the documented protocol has them.
builder.Services.ConfigureHttpJsonOptions(options =>
    options.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);

var app = builder.Build();

app.UseServiceDefaults();
app.UseWebSockets();

app.MapOpenApi().AllowAnonymous();
app.MapDefaultEndpoints();
app.MapJobsApi();
app.MapChat();

app.Run();

/// <summary>Entry point, visible to the tests.</summary>
public partial class Program;
