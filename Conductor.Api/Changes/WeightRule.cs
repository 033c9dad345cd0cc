using System.Text.RegularExpressions;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Changes;

public class WeightRule
{
    public double Weight { get; set; }
}
