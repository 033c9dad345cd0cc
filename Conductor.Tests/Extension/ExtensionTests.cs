using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;
using Conductor.Tests.Workspaces;
using Xunit.Abstractions;

namespace Conductor.Tests.Extension;

/// <summary>
/// The VS Code extension against the real system: a real Api and GitWorker process, real Postgres and Redis, a git
/// remote over smart HTTP with a token, and a fake OpenAI-compatible provider on 127.0.0.1 (<see cref="ScriptedAi"/>)
/// beside the built-in mock one. The extension's own mocha suites run in node with the servers' addresses:
/// the Api client, auth session, chat socket and conductor:// file logic (integration), and the packaged .vsix in
/// code-server driven by Playwright in Debian's Chromium (end to end).
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ExtensionTests(PostgresServerFixture postgres, RedisServerFixture redis, ITestOutputHelper output)
{
    [Fact]
    public async Task The_extension_api_client_signs_in_chats_and_edits_files_against_the_real_api()
    {
        await ExtensionProject.PrepareAsync(codeServer: false);
        await using var system = await StartSystemAsync();
        var (exitCode, log) = await ExtensionProject.RunAsync("npm", ["run", "test:integration"], TimeSpan.FromMinutes(5), system.Environment);
        output.WriteLine(log);
        Assert.True(exitCode == 0, $"npm run test:integration failed ({exitCode}):\n{log}\n--- api ---\n{Tail(system.Api.Output)}");
        Assert.Contains("passing", log, StringComparison.Ordinal);
        Assert.DoesNotContain("failing", log, StringComparison.Ordinal);
        Assert.DoesNotContain(system.RepositoryToken, system.Api.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(AiKey, system.Api.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_packaged_extension_works_in_a_real_vs_code_against_the_real_api()
    {
        await ExtensionProject.PrepareAsync(codeServer: true);
        await using var system = await StartSystemAsync();
        var environment = new Dictionary<string, string>(system.Environment)
        {
            ["CODE_SERVER_BIN"] = ExtensionProject.CodeServer,
            ["CONDUCTOR_VSIX"] = ExtensionProject.Vsix,
        };
        var (exitCode, log) = await ExtensionProject.RunAsync("npm", ["run", "test:e2e"], TimeSpan.FromMinutes(10), environment);
        output.WriteLine(log);
        Assert.True(exitCode == 0, $"npm run test:e2e failed ({exitCode}):\n{log}\n--- api ---\n{Tail(system.Api.Output)}");
        Assert.Contains("passing", log, StringComparison.Ordinal);
        Assert.DoesNotContain("failing", log, StringComparison.Ordinal);
        Assert.DoesNotContain(system.RepositoryToken, system.Api.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(AiKey, system.Api.Output, StringComparison.Ordinal);
    }

    private const string AiKey = "sk-extension-e2e-0123456789";

    private async Task<RunningSystem> StartSystemAsync()
    {
        var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        var gitHub = await FakeGitHub.StartAsync();
        var approver = new DeviceApprover(gitHub, "octo-" + Guid.NewGuid().ToString("N")[..8]);
        FakeAiServer? ai = null;
        try
        {
            ai = await FakeAiServer.StartAsync(FakeAiKind.OpenAI);
            var script = ScriptedAi.Default;
            ai.AnswerRequest = script.Answer;
            env.Jobs.Overrides[$"Ai:Providers:{script.Provider}:Kind"] = "openai";
            env.Jobs.Overrides[$"Ai:Providers:{script.Provider}:Endpoint"] = ai.Endpoint.AbsoluteUri;
            env.Jobs.Overrides[$"Ai:Providers:{script.Provider}:ApiKey"] = AiKey;
            env.Jobs.Overrides[$"Ai:Providers:{script.Provider}:Model"] = "fake-model";
            // The mock stays everyone's default (the panel's Ask and Generate Changes steps expect it); the e2e
            // selects the fake provider in the panel for @ai and names it for the conversation's bots.
            env.Jobs.Overrides["Ai:DefaultProvider"] = "mock";
            // A probe that failed on a loaded machine is repeated within the e2e's wait for the provider to show available.
            env.Jobs.Overrides["Ai:ProbeInterval"] = "00:00:05";
            env.Jobs.Overrides["Auth:DevLogin"] = "true";
            env.Jobs.Overrides["Auth:GitHub:ClientId"] = FakeGitHub.ClientId;
            env.Jobs.Overrides["Auth:GitHub:BaseUrl"] = gitHub.BaseUrl.AbsoluteUri;
            env.Jobs.Overrides["Auth:GitHub:ApiUrl"] = gitHub.ApiUrl.AbsoluteUri;
            // The integration suite signs in many users at once from one address.
            env.Jobs.Overrides["Auth:RateLimit:PermitLimit"] = "1000";
            // Short-lived access tokens, so the extension refreshes (and rotates its refresh token) every half minute
            // throughout the run, across the window reloads: a refresh race shows up as a failed step, not once a day.
            env.Jobs.Overrides["Auth:AccessTokenLifetime"] = "00:01:30";
            await env.StartHostAsync();
            env.CreateRemote("team.git");
            await env.StartWorkerAsync();
            var api = ServiceInstance.Start("Conductor.Api", env.Jobs.ProcessEnvironment());
            var url = await api.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
            return new RunningSystem(env, gitHub, approver, api, new Dictionary<string, string>
            {
                ["CONDUCTOR_API_URL"] = url.ToString().TrimEnd('/'),
                ["CONDUCTOR_REPO_URL"] = env.Server.UrlOf("team.git"),
                ["CONDUCTOR_REPO_TOKEN"] = env.Token,
                ["CONDUCTOR_GITHUB_LOGIN"] = approver.Login,
                ["CONDUCTOR_FAKE_AI_SCRIPT"] = script.ToJson(),
            }, env.Token, ai);
        }
        catch
        {
            if (ai is not null)
            {
                await ai.DisposeAsync();
            }
            await approver.DisposeAsync();
            await gitHub.DisposeAsync();
            await env.DisposeAsync();
            throw;
        }
    }

    private static string Tail(string text) => text.Length > 8000 ? text[^8000..] : text;

    private sealed record RunningSystem(WorkspaceTestEnvironment Workspace, FakeGitHub GitHub, DeviceApprover Approver, ServiceInstance Api,
        IReadOnlyDictionary<string, string> Environment, string RepositoryToken, FakeAiServer Ai) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            // Every process is stopped even if stopping an earlier one throws (the workspace owns the GitWorker).
            try
            {
                await Api.DisposeAsync();
                await Approver.DisposeAsync();
            }
            finally
            {
                try
                {
                    await GitHub.DisposeAsync();
                }
                finally
                {
                    try
                    {
                        await Ai.DisposeAsync();
                    }
                    finally
                    {
                        await Workspace.DisposeAsync();
                    }
                }
            }
        }
    }
}
