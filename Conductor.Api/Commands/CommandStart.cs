using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using Conductor.Api.Audit;
using Conductor.Api.Rooms;
using Conductor.Api.Sandbox;
using Conductor.Workspaces;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Commands;

/// <summary>The outcome of asking to run: the run started, or a problem to answer with.</summary>
public sealed record CommandStart(RunningCommand? Running, int Status, string? Code, string? Title, string? Detail);
