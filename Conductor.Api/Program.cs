using Conductor.Api.Ai;
using Conductor.Api.Audit;
using Conductor.Api.Auth;
using Conductor.Api.Changes;
using Conductor.Api.Chat;
using Conductor.Api.Commands;
using Conductor.Api.Conversations;
using Conductor.Api.Files;
using Conductor.Api.GitRemote;
using Conductor.Api.Jobs;
using Conductor.Api.Mcp;
using Conductor.Api.Rooms;
using Conductor.Api.Terminals;
using Conductor.Api.Workspaces;
using Conductor.Data;
using Conductor.Jobs;
using Conductor.Workspaces;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddNpgsqlDataSource("conductordb");
builder.AddConductorMigrations();
// Aspire.StackExchange.Redis: IConnectionMultiplexer, health check and tracing. It does not abort on a failed first
// connect, so the service starts (and keeps retrying) while Redis is still coming up (RedisClientWiringTests).
// Its I/O runs on the .NET thread pool rather than StackExchange.Redis's own dedicated threads: every chat batch's
// publish and every lease woke those threads (a quarter of the Api's futex calls in the chat bench's closed loop), and
// this Api never blocks a pool thread on Redis, the starvation the dedicated threads guard against.
builder.AddRedisClient("redis", configureOptions: options => options.SocketManager = StackExchange.Redis.SocketManager.ThreadPool);
builder.AddConductorJobQueue();
builder.AddConductorAuth();
builder.AddConductorRooms();
builder.AddConductorFiles();
builder.AddConductorAi();
builder.AddConductorChanges();
builder.AddConductorConversations();
builder.AddConductorMcp();
builder.AddWebOriginCors();
builder.AddConductorChat();
builder.AddConductorAiChat();
builder.AddConductorWorkspaces();
builder.AddConductorGitRemote();
builder.AddConductorCommands();
builder.Services.AddOpenApi(options => options.AddRoomAccess());
// Contracts are snake_case on the wire (room_id, created_at), as the documented protocol has them.
builder.Services.ConfigureHttpJsonOptions(options =>
    options.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
// Malformed JSON or a missing body is the client's mistake, a 400 problem, in Development too (where the framework
// would otherwise throw and the exception handler would answer 500).
builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(options => options.ThrowOnBadRequest = false);
// "Request starting" lines carry the query string, and socket clients send their access token there.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);

var app = builder.Build();

app.UseServiceDefaults();
app.UseCors(WebOrigins.PolicyName);
app.UseConductorAuth();
app.UseWebSockets();

app.MapOpenApi().AllowAnonymous();
app.MapDefaultEndpoints();
app.MapAuthApi();
app.MapRoomsApi();
app.MapJobsApi();
app.MapFilesApi();
app.MapAiApi();
app.MapChangesApi();
app.MapAuditApi();
app.MapConversationsApi();
app.MapMcpApi();
app.MapChat();
app.MapWorkspacesApi();
app.MapWorkspaceSourceControlApi();
app.MapWorkspaceSyncApi();
app.MapGitRemote();
app.MapCommandsApi();
app.MapRoomEventsApi();
app.MapTerminalSocket();

app.Run();

/// <summary>Entry point, visible to the tests.</summary>
public partial class Program;
