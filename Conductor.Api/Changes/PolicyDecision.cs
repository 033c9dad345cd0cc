using System.Text.RegularExpressions;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Changes;

public sealed record PolicyDecision(string Decision, double RiskScore, IReadOnlyList<string> Reasons);
