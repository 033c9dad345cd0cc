using Conductor.Api.Changes;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;

namespace Conductor.Tests.Changes;

public sealed class PolicyTests
{
    private static readonly PolicyEvaluator Default = new(Options.Create(new PolicyOptions()));

    private static PolicyChange Modify(string path, string content = "x\n") => new(path, "modify", content, null);
    private static PolicyChange Create(string path, string content = "x\n") => new(path, "create", content, null);
    private static PolicyChange Delete(string path) => new(path, "delete", null, null);

    public static TheoryData<string, PolicyChange[], string[]?, string, double> Table() => new()
    {
        // case, changes, context files (null: unknown), decision, risk
        { "small edit of a context file", [Modify("src/a.cs")], ["src/a.cs"], "apply_all", 0 },
        { "no context known", [Modify("src/a.cs"), Create("src/b.cs")], null, "apply_all", 0 },
        { "outside the context", [Modify("src/other.cs")], ["src/a.cs"], "apply_all", 0.2 },
        { "deletion", [Delete("src/a.cs")], ["src/a.cs"], "review_required", 0.35 },
        { "config", [Modify("src/appsettings.Production.json")], ["src/appsettings.Production.json"], "review_required", 0.3 },
        { "lock file (not also config)", [Modify("web/package-lock.json")], null, "review_required", 0.3 },
        { "CI (not also config)", [Modify(".github/workflows/ci.yml")], null, "review_required", 0.45 },
        { "CI and config", [Modify(".github/workflows/ci.yml"), Modify("appsettings.json")], null, "reject_all", 0.75 },
        { "infrastructure", [Modify("infra/main.bicep")], null, "review_required", 0.45 },
        { "Dockerfile anywhere", [Modify("services/api/Dockerfile")], null, "review_required", 0.45 },
        { "secret-looking file", [Create(".env")], null, "reject_all", 0.8 },
        { "secret-looking content", [Modify("src/a.cs", "const string Key = \"AKIAABCDEFGHIJKLMNOP\";")], ["src/a.cs"], "reject_all", 0.8 },
        { "private key content", [Create("notes.txt", "-----BEGIN RSA PRIVATE KEY-----\nabc")], null, "reject_all", 0.8 },
        { "binary by extension", [Create("assets/logo.png", "x")], null, "reject_all", 0.8 },
        { "binary by content", [Create("data.txt", "a\0b")], null, "reject_all", 0.8 },
        { "deletion outside the context", [Delete("src/b.cs")], ["src/a.cs"], "review_required", 0.55 },
        { "deletion of CI", [Delete(".github/workflows/ci.yml")], null, "reject_all", 0.8 },
        { "too many lines", [Create("src/big.cs", string.Concat(Enumerable.Repeat("line\n", 400)))], null, "apply_all", 0.2 },
        { "too many files", Enumerable.Range(0, 11).Select(i => Modify($"src/f{i}.cs")).ToArray(), null, "apply_all", 0.2 },
        { "a rule counts once", [Delete("a.cs"), Delete("b.cs"), Delete("c.cs")], null, "review_required", 0.35 },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decides_by_the_documented_rules(string @case, PolicyChange[] changes, string[]? context, string decision, double risk)
    {
        var result = Default.Evaluate(changes, context);
        Assert.True(decision == result.Decision, $"{@case}: expected {decision}, got {result.Decision} ({string.Join("; ", result.Reasons)})");
        Assert.Equal(risk, result.RiskScore, 2);
        Assert.NotEmpty(result.Reasons);
    }

    [Fact]
    public void An_empty_set_applies()
    {
        var result = Default.Evaluate([], null);
        Assert.Equal(("apply_all", 0.0), (result.Decision, result.RiskScore));
    }

    [Fact]
    public void Reasons_name_the_rule_and_the_file()
    {
        var result = Default.Evaluate([Delete("src/old.cs")], null);
        Assert.Equal(["deletion: src/old.cs is deleted (+0.35)"], result.Reasons);
    }

    [Fact]
    public void Rules_thresholds_and_patterns_are_configurable()
    {
        var strict = new PolicyEvaluator(Options.Create(new PolicyOptions
        {
            ApplyAllBelow = 0.1,
            RejectAtOrAbove = 0.3,
            Config = new PatternRule { Weight = 0.5, Patterns = ["*.conductor"] },
        }));
        Assert.Equal("reject_all", strict.Evaluate([Modify("app.conductor")], null).Decision);
        // Setting a list replaces the defaults.
        Assert.Equal("apply_all", strict.Evaluate([Modify("appsettings.json")], null).Decision);
        Assert.Equal("reject_all", strict.Evaluate([Delete("a.cs")], null).Decision);
    }

    [Fact]
    public void Invalid_options_fail_validation()
    {
        var result = new PolicyOptionsValidator().Validate(null, new PolicyOptions
        {
            ApplyAllBelow = 0.8,
            RejectAtOrAbove = 0.5,
            Deletion = new WeightRule { Weight = 2 },
            Secret = new SecretRule { Weight = 0.8, ContentPatterns = ["(unclosed"] },
        });
        Assert.True(result.Failed);
        Assert.Equal(3, result.Failures!.Count());
    }

    [Theory]
    [InlineData("*.yml", ".github/workflows/ci.yml", true)]
    [InlineData(".github/**", ".github/workflows/ci.yml", true)]
    [InlineData(".github/**", "src/.github/x", false)]
    [InlineData("k8s/**", "k8s/deploy.yaml", true)]
    [InlineData("Dockerfile*", "svc/Dockerfile.dev", true)]
    [InlineData("src/*.cs", "src/sub/a.cs", false)]
    [InlineData("src/**/*.cs", "src/a.cs", true)]
    [InlineData("src/**/*.cs", "src/sub/deep/a.cs", true)]
    [InlineData(".env.*", "config/.env.local", true)]
    [InlineData("*secret*", "src/SecretStore.cs", true)]
    public void Globs_match_paths(string pattern, string path, bool matches) =>
        Assert.Equal(matches, Glob.Parse(pattern, ignoreCase: true).MatchesFile(path));
}
