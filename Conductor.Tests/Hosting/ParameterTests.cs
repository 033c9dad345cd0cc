using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Conductor.AppHost;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Hosting;

/// <summary>AI provider keys: secret parameters of the AppHost, optional locally, never written into the manifest.</summary>
public sealed class ParameterTests : IDisposable
{
    private readonly string _dataDirectory = TestDirectories.Create("parameters");

    /// <summary>
    /// The AppHost's model, defined on a plain builder and never built: what a local run would declare, without
    /// starting anything. (A testing builder disposed unbuilt lets the AppHost's entry point go on to run.)
    /// </summary>
    private IDistributedApplicationBuilder Model(params string[] configuration)
    {
        var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            // A folder per model: each run-mode model holds its data folder's lock.
            Args = [$"{ConductorModel.DataDirectoryKey}={Path.Combine(_dataDirectory, Guid.NewGuid().ToString("N"))}", .. configuration],
            AssemblyName = typeof(ConductorModel).Assembly.GetName().Name,
            DisableDashboard = true,
        });
        ConductorModel.Define(builder);
        return builder;
    }

    /// <summary>The Api's environment as the manifest would write it: parameters and endpoints stay expressions.</summary>
    private static async Task<Dictionary<string, string>> ApiEnvironmentAsync(IDistributedApplicationBuilder builder)
    {
        var api = builder.Resources.OfType<ProjectResource>().Single(p => p.Name == "api");
        // Obsolete in favour of ExecutionConfigurationBuilder, which needs an execution context the testing builder
        // only has after Build; this one call still evaluates the callbacks the way the manifest publisher does.
#pragma warning disable CS0618
        return await api.GetEnvironmentVariableValuesAsync(DistributedApplicationOperation.Publish);
#pragma warning restore CS0618
    }

    [Fact]
    public async Task A_local_run_configures_a_provider_only_when_its_key_is_given()
    {
        var withoutKeys = Model();
        Assert.DoesNotContain((await ApiEnvironmentAsync(withoutKeys)).Keys, key => key.StartsWith("Ai__Providers__", StringComparison.Ordinal));
        Assert.DoesNotContain(withoutKeys.Resources, resource => resource.Name.EndsWith("-api-key", StringComparison.Ordinal));

        var withOpenAi = Model("Parameters:openai-api-key=sk-local-secret");
        var environment = await ApiEnvironmentAsync(withOpenAi);
        Assert.Equal("openai", environment["Ai__Providers__openai__Kind"]);
        // The key travels only as a parameter reference, never as a literal in the model.
        Assert.Equal("{openai-api-key.value}", environment["Ai__Providers__openai__ApiKey"]);
        Assert.DoesNotContain("sk-local-secret", environment.Values);
        Assert.DoesNotContain("Ai__Providers__anthropic__Kind", environment.Keys);
        var key = withOpenAi.Resources.OfType<ParameterResource>().Single(p => p.Name == "openai-api-key");
        Assert.True(key.Secret);
        Assert.Equal("sk-local-secret", await key.GetValueAsync(default));
    }

    [Fact]
    public async Task The_manifest_asks_for_keys_as_secrets_and_never_contains_a_configured_value()
    {
        var output = Path.Combine(_dataDirectory, "manifest.json");
        var (exitCode, log) = await ManifestTests.RunAppHostAsync(
            new Dictionary<string, string> { ["Parameters__openai-api-key"] = "sk-local-secret" },
            "--publisher", "manifest", "--output-path", output);
        Assert.True(exitCode == 0, log);
        var manifest = await File.ReadAllTextAsync(output);
        Assert.DoesNotContain("sk-local-secret", manifest, StringComparison.Ordinal);

        using var document = JsonDocument.Parse(manifest);
        var resources = document.RootElement.GetProperty("resources");
        foreach (var kind in new[] { "openai", "anthropic" })
        {
            var input = resources.GetProperty($"{kind}-api-key").GetProperty("inputs").GetProperty("value");
            Assert.True(input.GetProperty("secret").GetBoolean());
            Assert.Equal("", input.GetProperty("default").GetProperty("value").GetString());
            Assert.Equal($"{{{kind}-api-key.value}}",
                resources.GetProperty("api").GetProperty("env").GetProperty($"Ai__Providers__{kind}__ApiKey").GetString());
        }
    }

    public void Dispose() => TestDirectories.TryDelete(_dataDirectory);
}
