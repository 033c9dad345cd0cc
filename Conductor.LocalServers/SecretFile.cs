namespace Conductor.LocalServers;

/// <summary>Writes a file that holds a secret so that only its owner can ever read it (created 0600, then renamed).</summary>
public static class SecretFile
{
    public static void Write(string path, string contents)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(contents);
        }
        if (!OperatingSystem.IsWindows())
        {
            // A temporary file left by a crashed run may predate us with other modes: UnixCreateMode only applies on create.
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
