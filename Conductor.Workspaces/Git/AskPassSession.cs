using System.Text;

namespace Conductor.Workspaces.Git;

/// <summary>
/// Hands one git process its credential through <c>GIT_ASKPASS</c> without the secret touching the disk, argv or
/// the environment. The helper is a two-line shell script holding no secret; for the password it reads a FIFO
/// (a kernel pipe with a name: nothing is stored in the file system) in a fresh 0700 folder, and this object
/// writes the token into the FIFO each time git opens it, until git exits. Other users cannot open the folder;
/// the same user could also read this process's memory, so nothing weaker than that is exposed.
/// </summary>
internal sealed class AskPassSession : IAsyncDisposable
{
    // git asks once per connection that needs it; a clone or push makes one or two. The cap bounds a loop.
    private const int MaxServes = 8;

    private const string Script = """
        #!/bin/sh
        # Conductor's GIT_ASKPASS helper. It holds no secret: the password comes from a FIFO the worker serves from memory.
        case "$1" in
          Username*) printf '%s\n' "$CONDUCTOR_GIT_USERNAME" ;;
          Password*) exec cat -- "$CONDUCTOR_ASKPASS_FIFO" ;;
          *) exit 1 ;;
        esac

        """;

    private readonly string _directory;
    private readonly string _fifo;
    private readonly byte[] _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    private AskPassSession(string directory, string scriptPath, string fifo, byte[] answer, string username)
    {
        _directory = directory;
        _fifo = fifo;
        _answer = answer;
        Environment = new Dictionary<string, string>
        {
            ["GIT_ASKPASS"] = scriptPath,
            ["CONDUCTOR_ASKPASS_FIFO"] = fifo,
            ["CONDUCTOR_GIT_USERNAME"] = username,
        };
        _serving = Task.Factory.StartNew(Serve, TaskCreationOptions.LongRunning);
    }

    public IReadOnlyDictionary<string, string> Environment { get; }

    public static AskPassSession Start(string scratchRoot, string username, GitCredential credential)
    {
        Directory.CreateDirectory(scratchRoot);
        var directory = Path.Combine(scratchRoot, $"askpass-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var scriptPath = Path.Combine(directory, "askpass.sh");
            File.WriteAllText(scriptPath, Script.ReplaceLineEndings("\n"));
            File.SetUnixFileMode(scriptPath, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            var fifo = Path.Combine(directory, "secret");
            Native.CreateFifo(fifo, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            return new AskPassSession(directory, scriptPath, fifo, Encoding.UTF8.GetBytes(credential.Secret + "\n"), username);
        }
        catch
        {
            TryDelete(directory);
            throw;
        }
    }

    private void Serve()
    {
        for (var served = 0; served < MaxServes && !_stop.IsCancellationRequested; served++)
        {
            try
            {
                // Blocks until the helper opens the FIFO to read (or Dispose releases it).
                using var pipe = new FileStream(_fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
                pipe.Write(_answer);
            }
            catch (IOException)
            {
                // The reader went away mid-write (git was killed): serve the next open, if any.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        // The serving thread may be about to block in open() again; keep releasing it until it has seen the stop.
        for (var i = 0; i < 100 && !_serving.IsCompleted; i++)
        {
            Native.ReleaseFifoWriter(_fifo);
            await Task.WhenAny(_serving, Task.Delay(20)).ConfigureAwait(false);
        }
        Array.Clear(_answer);
        TryDelete(_directory);
        _stop.Dispose();
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
