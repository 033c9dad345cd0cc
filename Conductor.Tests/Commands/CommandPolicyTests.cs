using Conductor.Api.Commands;

namespace Conductor.Tests.Commands;

public sealed class CommandPolicyTests
{
    private static readonly IReadOnlyList<AllowedCommand> Defaults = CommandOptions.BuiltInAllowlist;

    [Theory]
    [InlineData("npm test")]
    [InlineData("dotnet test --filter Name~Parser --no-build")]
    [InlineData("pytest -k fast tests/unit")]
    [InlineData("go test ./...")]
    [InlineData("go test -run=TestX ./pkg")]
    public void Allowlisted_argv_prefixes_with_listed_options_and_worktree_paths_are_allowed(string command)
    {
        var decision = CommandPolicy.Decide(command, null, Defaults);
        Assert.True(decision.Allowed, decision.Refusal);
        Assert.Equal(command.Split(' '), decision.Argv);
    }

    [Theory]
    [InlineData("npm test; rm -rf /", "not on this room's allowlist")]
    [InlineData("npm test && rm -rf /", "metacharacter")]
    [InlineData("npm test -- --prefix=/", "'--' is not allowed")]
    [InlineData("npm test --prefix=/", "option '--prefix' is not allowed")]
    [InlineData("pytest ../other-room", "outside the worktree")]
    [InlineData("pytest /etc/passwd", "outside the worktree")]
    [InlineData("pytest a/../../b", "outside the worktree")]
    [InlineData("pytest ~/secrets", "outside the worktree")]
    [InlineData("make test SHELL=/bin/evil", "assignment")]
    [InlineData("rm -rf /", "not on this room's allowlist")]
    [InlineData("/usr/bin/npm test", "is a path")]
    [InlineData("npm", "not on this room's allowlist")]
    [InlineData("dotnet test --logger=x", "option '--logger' is not allowed")]
    [InlineData("go test -exec=/tmp/x", "option '-exec' is not allowed")]
    public void Argument_tricks_are_refused_with_the_reason(string command, string reason)
    {
        var decision = CommandPolicy.Decide(command, null, Defaults);
        Assert.False(decision.Allowed);
        Assert.False(decision.Malformed);
        Assert.Contains(reason, decision.Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Args_are_matched_as_given_and_a_semicolon_inside_one_is_refused_not_split()
    {
        Assert.True(CommandPolicy.Decide("npm", ["test"], Defaults).Allowed);
        Assert.False(CommandPolicy.Decide("npm", ["test;", "rm", "-rf", "/"], Defaults).Allowed);
        Assert.False(CommandPolicy.Decide("npm", ["test", "$(id)"], Defaults).Allowed);
        Assert.True(CommandPolicy.Decide("npm test", ["x"], Defaults).Malformed);
        Assert.True(CommandPolicy.Decide("npm", ["test", "a\nb"], Defaults).Malformed);
        Assert.True(CommandPolicy.Decide(" ", null, Defaults).Malformed);
    }

    [Fact]
    public void The_longest_matching_entry_decides_which_options_are_allowed()
    {
        IReadOnlyList<AllowedCommand> list = [new("npm run", []), new("npm run build", ["--watch"])];
        Assert.True(CommandPolicy.Decide("npm run build --watch", null, list).Allowed);
        Assert.False(CommandPolicy.Decide("npm run lint --watch", null, list).Allowed);
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("/bin/sh", null)]
    [InlineData("npm -g", null)]
    [InlineData("npm;x", null)]
    [InlineData("npm test", "--")]
    [InlineData("npm test", "--opt=1")]
    [InlineData("npm test", "plain")]
    public void Host_edited_entries_must_be_plain_words_and_options(string command, string? option)
    {
        Assert.NotNull(CommandPolicy.ValidateEntry(new AllowedCommand(command, option is null ? [] : [option])));
    }
}
