using System.Security.Cryptography;
using System.Text.Json;

namespace Conductor.LocalServers;

/// <summary>
/// Generated passwords of the local servers, kept in the data folder (mode 0600) so that a second run reuses the
/// data they protect. They never go into argv, environment dumps or logs.
/// </summary>
public sealed class SecretStore(string path)
{
    private readonly Lock _gate = new();

    public string GetOrCreate(string name)
    {
        lock (_gate)
        {
            var secrets = Load();
            if (secrets.TryGetValue(name, out var existing) && !string.IsNullOrEmpty(existing))
            {
                return existing;
            }
            var generated = Generate();
            secrets[name] = generated;
            Save(secrets);
            return generated;
        }
    }

    /// <summary>A password of letters and digits only, so it needs no quoting in a connection string or config file.</summary>
    public static string Generate(int length = 24) =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", length);

    private Dictionary<string, string> Load()
    {
        if (!File.Exists(path))
        {
            return [];
        }
        return JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? [];
    }

    private void Save(Dictionary<string, string> secrets)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(stream, secrets, new JsonSerializerOptions { WriteIndented = true });
        }
        File.Move(temporary, path, overwrite: true);
    }
}
