using System.Text;
using System.Text.Json;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Hosting;

/// <summary>
/// Checks a manifest against SchemaStore's aspire-8.0 JSON schema as the npm registry serves it: the package
/// <c>@schemastore/aspire-8.0</c>, the schema turned into TypeScript types, checked with <c>tsc</c>. The schema's text
/// itself cannot be fetched here (no network beyond the package registries), and no NuGet package ships it.
/// The schema's resource union ends in catch-all branches that accept any object, so each resource is also checked
/// against the branch for its own <c>type</c>: that is where required properties, enums (binding schemes, protocols,
/// transports) and value types are enforced.
/// </summary>
public static class AspireManifestSchema
{
    private static readonly NodeProject Checker = new(
        Path.Combine(RepositoryPaths.Root, "Conductor.Tests", "Hosting", "manifest-schema"), Path.Combine("typescript", "package.json"));

    /// <summary>tsc's verdict on <paramref name="manifestJson"/>: exit code 0 when valid, else its errors.</summary>
    public static async Task<(bool IsValid, string Errors)> CheckAsync(string manifestJson)
    {
        await Checker.EnsureInstalledAsync();
        using var manifest = JsonDocument.Parse(manifestJson);
        var folder = Path.Combine(Checker.Directory, "generated");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, $"manifest-{Guid.NewGuid():N}.ts");
        await File.WriteAllTextAsync(file, ToTypeScript(manifest.RootElement));
        try
        {
            var (exitCode, output, errors) = await Checker.RunAsync("node",
                [Path.Combine("node_modules", "typescript", "bin", "tsc"), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", file],
                TimeSpan.FromMinutes(2));
            return (exitCode == 0, output + errors);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string ToTypeScript(JsonElement manifest)
    {
        var ts = new StringBuilder();
        ts.AppendLine("import type { HttpsJsonSchemastoreOrgAspire80Json } from '@schemastore/aspire-8.0';");
        ts.AppendLine("type Resource = NonNullable<HttpsJsonSchemastoreOrgAspire80Json['resources'][string]>;");
        // The branch whose `type` is exactly T (the catch-alls declare `type: string` or no `type`, and drop out).
        ts.AppendLine("type Of<T extends string> = Resource extends infer M ? M extends { type?: infer K } ? [K] extends [T | undefined] ? [T] extends [K] ? M : never : never : never : never;");
        ts.AppendLine($"export const manifest = {manifest.GetRawText()} satisfies HttpsJsonSchemastoreOrgAspire80Json;");
        var index = 0;
        foreach (var resource in manifest.GetProperty("resources").EnumerateObject())
        {
            var type = resource.Value.TryGetProperty("type", out var t) ? t.GetString() : null;
            Assert.False(string.IsNullOrEmpty(type), $"Resource '{resource.Name}' has no type.");
            ts.AppendLine($"export const resource{index++} = {resource.Value.GetRawText()} satisfies Of<{JsonSerializer.Serialize(type)}>; // {resource.Name}");
        }
        return ts.ToString();
    }
}
