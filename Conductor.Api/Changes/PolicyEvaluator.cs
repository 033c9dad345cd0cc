using System.Text.RegularExpressions;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Changes;

/// <summary>Scores a change set by <see cref="PolicyOptions"/>. Pure: the same changes and options give the same decision.</summary>
public sealed class PolicyEvaluator
{
    private readonly PolicyOptions _options;
    private readonly Glob[] _config;
    private readonly Glob[] _ci;
    private readonly Glob[] _infrastructure;
    private readonly Glob[] _lock;
    private readonly Glob[] _secret;
    private readonly Regex[] _secretContent;
    private readonly Glob[] _binary;

    public PolicyEvaluator(IOptions<PolicyOptions> options)
    {
        _options = options.Value;
        _config = Globs(_options.Config.Patterns ?? PolicyDefaults.Config);
        _ci = Globs(_options.Ci.Patterns ?? PolicyDefaults.Ci);
        _infrastructure = Globs(_options.Infrastructure.Patterns ?? PolicyDefaults.Infrastructure);
        _lock = Globs(_options.Lock.Patterns ?? PolicyDefaults.Lock);
        _secret = Globs(_options.Secret.Patterns ?? PolicyDefaults.Secret);
        _secretContent = (_options.Secret.ContentPatterns ?? PolicyDefaults.SecretContent)
            .Select(p => new Regex(p, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))).ToArray();
        _binary = Globs(_options.Binary.Patterns ?? PolicyDefaults.Binary);
    }

    /// <param name="contextFiles">The paths given as context when the changes were generated; null when unknown.</param>
    public PolicyDecision Evaluate(IReadOnlyList<PolicyChange> changes, IReadOnlyCollection<string>? contextFiles)
    {
        if (changes.Count == 0)
        {
            return new PolicyDecision(PolicyDecisions.ApplyAll, 0, ["no changes"]);
        }
        var reasons = new List<string>();
        var fired = new Dictionary<string, double>(StringComparer.Ordinal);
        void Fire(string rule, double weight, string reason)
        {
            fired[rule] = weight;
            reasons.Add($"{rule}: {reason} (+{weight:0.##})");
        }

        var context = contextFiles?.ToHashSet(StringComparer.Ordinal);
        var changedLines = 0;
        foreach (var change in changes)
        {
            var path = change.FilePath;
            if (change.Type == "delete")
            {
                Fire("deletion", _options.Deletion.Weight, $"{path} is deleted");
            }
            if (Matches(_secret, path))
            {
                Fire("secret", _options.Secret.Weight, $"{path} looks like a secrets file");
            }
            else if (change.Content is { } content && _secretContent.Any(r => r.IsMatch(content)))
            {
                Fire("secret", _options.Secret.Weight, $"{path} contains what looks like a credential");
            }
            if (Matches(_binary, path) || change.Content?.Contains('\0') == true)
            {
                Fire("binary", _options.Binary.Weight, $"{path} is binary content");
            }
            // A file is in its most specific category only: a workflow .yml is CI, not also configuration.
            if (Matches(_lock, path))
            {
                Fire("lock", _options.Lock.Weight, $"{path} is a lock file");
            }
            else if (Matches(_ci, path))
            {
                Fire("ci", _options.Ci.Weight, $"{path} is CI configuration");
            }
            else if (Matches(_infrastructure, path))
            {
                Fire("infrastructure", _options.Infrastructure.Weight, $"{path} is infrastructure");
            }
            else if (Matches(_config, path))
            {
                Fire("config", _options.Config.Weight, $"{path} is configuration");
            }
            if (context is not null && !context.Contains(path))
            {
                Fire("outside_context", _options.OutsideContext.Weight, $"{path} was not among the files given as context");
            }
            changedLines += ChangedLines(change);
        }
        if (changedLines > _options.Size.MaxChangedLines)
        {
            Fire("size", _options.Size.Weight, $"{changedLines} changed lines (over {_options.Size.MaxChangedLines})");
        }
        if (changes.Count > _options.Size.MaxFiles)
        {
            Fire("size", _options.Size.Weight, $"{changes.Count} files changed (over {_options.Size.MaxFiles})");
        }

        var score = Math.Round(Math.Min(1.0, fired.Values.Sum()), 2);
        var decision = score < _options.ApplyAllBelow ? PolicyDecisions.ApplyAll
            : score < _options.RejectAtOrAbove ? PolicyDecisions.ReviewRequired
            : PolicyDecisions.RejectAll;
        if (reasons.Count == 0)
        {
            reasons.Add("no rule matched");
        }
        return new PolicyDecision(decision, score, reasons);
    }

    /// <summary>Lines added or removed: from the diff when there is one, else the content's lines.</summary>
    private static int ChangedLines(PolicyChange change)
    {
        if (change.Diff is { Length: > 0 } diff)
        {
            return diff.Split('\n').Count(l => (l.StartsWith('+') && !l.StartsWith("+++", StringComparison.Ordinal))
                || (l.StartsWith('-') && !l.StartsWith("---", StringComparison.Ordinal)));
        }
        return change.Content is { Length: > 0 } content ? content.Count(c => c == '\n') + 1 : 0;
    }

    private static bool Matches(Glob[] globs, string path) => globs.Any(g => g.MatchesFile(path));

    // The same globs as code search's include filter (one type for both), case-insensitive here: SECRETS.json is a secret too.
    private static Glob[] Globs(IEnumerable<string> patterns) => patterns.Select(p => Glob.Parse(p, ignoreCase: true)).ToArray();
}
