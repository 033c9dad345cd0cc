using System.Text.RegularExpressions;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Changes;

/// <summary>
/// <c>Policy:</c> the rules that score a change set's risk (see docs/changes-and-policy.md). Every rule that fires
/// adds its weight once; the sum, capped at 1, is the risk score. Below <see cref="ApplyAllBelow"/> the set may be
/// applied without review, from <see cref="RejectAtOrAbove"/> up it is rejected, in between it needs review.
/// Pattern lists left unset keep the documented defaults; setting one replaces them.
/// </summary>
public sealed class PolicyOptions
{
    public const string Section = "Policy";

    public double ApplyAllBelow { get; set; } = 0.3;
    public double RejectAtOrAbove { get; set; } = 0.7;

    public WeightRule Deletion { get; set; } = new() { Weight = 0.35 };
    public PatternRule Config { get; set; } = new() { Weight = 0.3 };
    public PatternRule Ci { get; set; } = new() { Weight = 0.45 };
    public PatternRule Infrastructure { get; set; } = new() { Weight = 0.45 };
    public PatternRule Lock { get; set; } = new() { Weight = 0.3 };
    public SecretRule Secret { get; set; } = new() { Weight = 0.8 };
    public WeightRule OutsideContext { get; set; } = new() { Weight = 0.2 };
    public SizeRule Size { get; set; } = new() { Weight = 0.2 };
    public PatternRule Binary { get; set; } = new() { Weight = 0.8 };
}

public class WeightRule
{
    public double Weight { get; set; }
}

public class PatternRule : WeightRule
{
    /// <summary>Globs over the '/'-separated path: <c>*</c> within a segment, <c>**</c> across; no '/' matches the name anywhere.</summary>
    public string[]? Patterns { get; set; }
}

public sealed class SecretRule : PatternRule
{
    /// <summary>Regular expressions that make content look like it holds a secret.</summary>
    public string[]? ContentPatterns { get; set; }
}

public sealed class SizeRule : WeightRule
{
    public int MaxChangedLines { get; set; } = 300;
    public int MaxFiles { get; set; } = 10;
}

/// <summary>The default pattern lists (documented in docs/changes-and-policy.md).</summary>
public static class PolicyDefaults
{
    public static readonly string[] Config =
    [
        "appsettings*.json", "*.config", "*.ini", "*.toml", "*.yaml", "*.yml", "*.csproj", "*.props", "*.targets", "*.sln",
        "package.json", "tsconfig*.json", ".editorconfig", "global.json", "nuget.config", "pyproject.toml", "setup.cfg",
    ];

    public static readonly string[] Ci =
    [
        ".github/**", ".gitlab-ci.yml", ".ci/**", ".circleci/**", "azure-pipelines.yml", "Jenkinsfile", ".buildkite/**",
        ".travis.yml", "bitbucket-pipelines.yml",
    ];

    public static readonly string[] Infrastructure =
    [
        "Dockerfile*", "docker-compose*.yml", "docker-compose*.yaml", "*.tf", "*.tfvars", "*.bicep", "azure.yaml",
        "aspire-manifest.json", "k8s/**", "helm/**", "infra/**", "deploy/**", "Makefile",
    ];

    public static readonly string[] Lock =
    [
        "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "packages.lock.json", "Cargo.lock", "poetry.lock", "go.sum",
        "Gemfile.lock", "composer.lock", "Pipfile.lock",
    ];

    public static readonly string[] Secret =
    [
        ".env", ".env.*", "*.pem", "*.key", "*.pfx", "*.p12", "*.jks", "id_rsa*", "id_ed25519*", "secrets.json",
        "*secret*", "credentials*", ".npmrc", ".pypirc", ".netrc",
    ];

    public static readonly string[] SecretContent =
    [
        @"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        @"\bAKIA[0-9A-Z]{16}\b",
        @"\bsk-[A-Za-z0-9_-]{20,}",
        @"\bgh[pousr]_[A-Za-z0-9]{36}\b",
        @"(?i)\b(api[_-]?key|secret|password|passwd|token)\b\s*[:=]\s*[""'][^""'\s]{12,}[""']",
    ];

    public static readonly string[] Binary =
    [
        "*.png", "*.jpg", "*.jpeg", "*.gif", "*.ico", "*.pdf", "*.zip", "*.gz", "*.tar", "*.7z", "*.exe", "*.dll", "*.so",
        "*.dylib", "*.bin", "*.class", "*.jar", "*.woff", "*.woff2", "*.ttf", "*.mp3", "*.mp4", "*.sqlite", "*.db",
    ];
}

/// <summary>What the policy looks at in one change.</summary>
public sealed record PolicyChange(string FilePath, string Type, string? Content, string? Diff);

public sealed record PolicyDecision(string Decision, double RiskScore, IReadOnlyList<string> Reasons);

public static class PolicyDecisions
{
    public const string ApplyAll = "apply_all";
    public const string ReviewRequired = "review_required";
    public const string RejectAll = "reject_all";
}

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

internal sealed class PolicyOptionsValidator : IValidateOptions<PolicyOptions>
{
    public ValidateOptionsResult Validate(string? name, PolicyOptions options)
    {
        var failures = new List<string>();
        if (!(options.ApplyAllBelow is >= 0 and <= 1 && options.RejectAtOrAbove is >= 0 and <= 1 && options.ApplyAllBelow <= options.RejectAtOrAbove))
        {
            failures.Add("Policy:ApplyAllBelow and Policy:RejectAtOrAbove must be in [0, 1] with ApplyAllBelow <= RejectAtOrAbove.");
        }
        WeightRule[] rules = [options.Deletion, options.Config, options.Ci, options.Infrastructure, options.Lock, options.Secret,
            options.OutsideContext, options.Size, options.Binary];
        if (rules.Any(r => r.Weight is < 0 or > 1))
        {
            failures.Add("Every Policy:<rule>:Weight must be in [0, 1].");
        }
        if (options.Size.MaxChangedLines < 1 || options.Size.MaxFiles < 1)
        {
            failures.Add("Policy:Size:MaxChangedLines and MaxFiles must be positive.");
        }
        foreach (var (rule, patterns) in new[] { ("Config", options.Config.Patterns), ("Ci", options.Ci.Patterns), ("Infrastructure", options.Infrastructure.Patterns),
            ("Lock", options.Lock.Patterns), ("Secret", options.Secret.Patterns), ("Binary", options.Binary.Patterns) })
        {
            foreach (var pattern in patterns ?? [])
            {
                try
                {
                    _ = Glob.Parse(pattern, ignoreCase: true);
                }
                catch (ArgumentException ex)
                {
                    failures.Add($"Policy:{rule}:Patterns: '{pattern}' is not a valid glob ({ex.Message}).");
                }
            }
        }
        foreach (var pattern in options.Secret.ContentPatterns ?? [])
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                failures.Add($"Policy:Secret:ContentPatterns: '{pattern}' is not a valid regular expression ({ex.Message}).");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
