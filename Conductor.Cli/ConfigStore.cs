using System.Text.Json;
using System.Text.Json.Serialization;

namespace Conductor.Cli;

/// <summary>The signed-in session as the CLI keeps it: the server, the tokens and who they are for.</summary>
public sealed record StoredSession(
    [property: JsonPropertyName("server")] string Server,
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("refresh_token")] string RefreshToken,
    [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt,
    [property: JsonPropertyName("user_id")] Guid UserId,
    [property: JsonPropertyName("login")] string Login);

/// <summary>
/// The one file that holds the tokens: <c>session.json</c>, mode 0600, in a 0700 folder: <c>$CONDUCTOR_CONFIG_DIR</c>,
/// else <c>$XDG_CONFIG_HOME/conductor</c>, else <c>~/.config/conductor</c>. Written to a temporary file created 0600
/// and renamed over the old one, so the file is never readable by others, not even for a moment, nor half written.
/// </summary>
public sealed class ConfigStore
{
    public ConfigStore(string? directory = null)
    {
        Directory = directory ?? DefaultDirectory();
    }

    public string Directory { get; }
    public string SessionPath => Path.Combine(Directory, "session.json");

    public static string DefaultDirectory()
    {
        var overridden = Environment.GetEnvironmentVariable("CONDUCTOR_CONFIG_DIR");
        if (!string.IsNullOrWhiteSpace(overridden))
        {
            return Path.GetFullPath(overridden);
        }
        var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        var root = !string.IsNullOrWhiteSpace(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return Path.Combine(root, "conductor");
    }

    public StoredSession? Read()
    {
        if (!File.Exists(SessionPath))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<StoredSession>(File.ReadAllText(SessionPath));
        }
        catch (JsonException)
        {
            throw new CliException(ExitCodes.NotSignedIn, $"{SessionPath} is not a session this CLI wrote; run `conductor login` again.");
        }
    }

    public void Write(StoredSession session)
    {
        EnsureDirectory();
        var staging = Path.Combine(Directory, $".session-{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(staging, options))
        {
            JsonSerializer.Serialize(stream, session);
        }
        File.Move(staging, SessionPath, overwrite: true);
    }

    public bool Delete()
    {
        if (!File.Exists(SessionPath))
        {
            return false;
        }
        File.Delete(SessionPath);
        return true;
    }

    /// <summary>
    /// An exclusive lock across CLI processes (a git credential helper call may run beside a command): refresh tokens
    /// rotate, and two processes refreshing with the same one would look like a stolen token to the server.
    /// </summary>
    public async Task<IDisposable> LockAsync(CancellationToken cancellationToken)
    {
        EnsureDirectory();
        var path = Path.Combine(Directory, "session.lock");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 200)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    private void EnsureDirectory()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            return;
        }
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory); // the user's profile is private there
        }
        else
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
