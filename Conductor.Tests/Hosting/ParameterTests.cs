using System.Text.Json;
using Conductor.AppHost;
using Conductor.Hosting;
using Conductor.Hosting.ApplicationModel;
using Conductor.Hosting.Publishing;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Hosting;

/// <summary>AI provider keys: secret parameters of the AppHost, optional locally, never written into the manifest.</summary>
public sealed class ParameterTests
{
    private static DistributedApplicationBuilder Model(Dictionary<string, string?> configuration, params string[] args)
    {
        var builder = DistributedApplicationBuilder.Create(new DistributedApplicationOptions
        {
            Args = args,
            Configuration = configuration,
        }, typeof(ConductorModel).Assembly);
        ConductorModel.Define(builder);
        return builder;
    }

    private static ProjectResource Api(DistributedApplicationBuilder builder) =>
        builder.Resources.OfType<ProjectResource>().Single(p => p.Name == "api");

    [Fact]
    public void A_local_run_configures_a_provider_only_when_its_key_is_given()
    {
        var withoutKeys = Model([]);
        Assert.DoesNotContain(Api(withoutKeys).Environment.Keys, key => key.StartsWith("Ai__Providers__", StringComparison.Ordinal));
        Assert.Empty(Api(withoutKeys).ParameterEnvironment);

        var withOpenAi = Model(new() { ["Parameters:openai-api-key"] = "sk-local-secret" });
        var api = Api(withOpenAi);
        Assert.Equal("openai", api.Environment["Ai__Providers__openai__Kind"]);
        var key = api.ParameterEnvironment["Ai__Providers__openai__ApiKey"];
        Assert.True(key.Secret);
        Assert.Equal("sk-local-secret", withOpenAi.GetParameterValue(key));
        // The key travels only as a parameter reference, never as a literal in the model.
        Assert.DoesNotContain("sk-local-secret", api.Environment.Values);
        Assert.DoesNotContain("Ai__Providers__anthropic__Kind", api.Environment.Keys);
    }

    [Fact]
    public void The_manifest_asks_for_keys_as_secrets_and_never_contains_a_configured_value()
    {
        var builder = Model(new() { ["Parameters:openai-api-key"] = "sk-local-secret" }, "--publisher", "manifest", "--output-path", "x.json");
        var manifest = ManifestPublisher.Write(builder.Resources, RepositoryPaths.Root);
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
}
