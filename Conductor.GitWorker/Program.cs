using Conductor.Data;
using Conductor.GitWorker.Workspaces;
using Conductor.Jobs;
using Conductor.Workspaces;

// The GitWorker is a worker service that also listens on HTTP, only so that the AppHost and the platform can
// probe /health and /alive before anything that waits for it starts.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddNpgsqlDataSource("conductordb");
// Before the job worker: hosted services start in order, and the worker's start-up sweep reads the jobs table.
builder.AddConductorMigrations();
// Aspire.StackExchange.Redis: IConnectionMultiplexer, health check and tracing. It does not abort on a failed first
// connect, so the service starts (and keeps retrying) while Redis is still coming up (RedisClientWiringTests).
builder.AddRedisClient("redis");
builder.AddConductorJobWorker();
builder.AddConductorWorkspaces();
builder.Services.AddJobHandler<WorkspaceCreateHandler>();
builder.Services.AddJobHandler<WorkspaceCommitHandler>();
builder.Services.AddJobHandler<WorkspaceDeleteHandler>();
builder.Services.AddHostedService<StoreSweeper>();

var app = builder.Build();
app.UseServiceDefaults();
app.MapDefaultEndpoints();
app.Run();
