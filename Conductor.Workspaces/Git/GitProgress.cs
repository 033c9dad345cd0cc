using System.Globalization;
using System.Text.RegularExpressions;

namespace Conductor.Workspaces.Git;

/// <summary>
/// Turns git's <c>--progress</c> lines ("Receiving objects:  45% (450/1000)") into one overall fraction, each
/// phase weighted by how long it usually takes, and reports it at most every few percent so a fast clone does
/// not flood the room with events.
/// </summary>
public sealed partial class GitProgress(Action<double, string> report)
{
    private static readonly (string Phase, double Start, double End)[] Phases =
    [
        ("Enumerating objects", 0.00, 0.02),
        ("Counting objects", 0.02, 0.05),
        ("Compressing objects", 0.05, 0.10),
        ("Receiving objects", 0.10, 0.80),
        ("Unpacking objects", 0.10, 0.80),
        ("Resolving deltas", 0.80, 0.92),
        ("Checking connectivity", 0.92, 0.94),
        ("Updating files", 0.94, 1.00),
    ];

    private string? _lastPhase;
    private double _lastReported = -1;

    public void OnLine(string line)
    {
        var match = ProgressLine().Match(line);
        if (!match.Success)
        {
            return;
        }
        var phase = match.Groups["phase"].Value.Trim();
        var percent = int.Parse(match.Groups["pct"].Value, CultureInfo.InvariantCulture);
        var weights = Array.Find(Phases, p => p.Phase == phase);
        if (weights.Phase is null)
        {
            return;
        }
        var overall = weights.Start + ((weights.End - weights.Start) * Math.Clamp(percent, 0, 100) / 100.0);
        if (phase != _lastPhase || overall - _lastReported >= 0.05 || (percent == 100 && overall > _lastReported))
        {
            _lastPhase = phase;
            _lastReported = overall;
            report(Math.Round(overall, 3), $"{phase}: {percent}%");
        }
    }

    [GeneratedRegex(@"^(?:remote:\s*)?(?<phase>[A-Za-z ]+):\s+(?<pct>\d{1,3})%")]
    private static partial Regex ProgressLine();
}
