using Conductor.Api.Ai;
using Conductor.Api.Audit;
using Conductor.Api.Changes;
using Conductor.Api.Files;
using Conductor.Api.Jobs;
using Conductor.Data;
using Conductor.Jobs;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddConductorDatabase();
builder.AddConductorMigrations();
builder.AddConductorRedis();
builder.AddConductorJobQueue();
builder.AddConductorFiles();
builder.AddConductorAi();
builder.AddConductorChanges();
builder.Services.AddOpenApi();
// Contracts are snake_case on the wire (room_id, created_at), as the documented protocol has them.
builder.Services.ConfigureHttpJsonOptions(options =>
    options.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);

var app = builder.Build();

app.UseServiceDefaults();

app.MapOpenApi().AllowAnonymous();
app.MapDefaultEndpoints();
app.MapJobsApi();
app.MapFilesApi();
app.MapAiApi();
app.MapChangesApi();
app.MapAuditApi();

app.Run();

/// <summary>Entry point, visible to the tests.</summary>
public partial class Program;
