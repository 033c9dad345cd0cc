using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Conductor.LocalServers;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// A loopback OpenSSH server (Debian's openssh-server, <c>/usr/sbin/sshd</c>) for SSH remotes: started by the test on a
/// free 127.0.0.1 port with its own host key, one authorised client key and its config in a temp folder, so
/// <c>ssh://{user}@127.0.0.1:{port}/path/repo.git</c> runs git-upload-pack / git-receive-pack on the test's bare
/// repositories. The client side gets a deployment-style key file and a known_hosts file naming the host key.
/// </summary>
internal sealed class SshTestServer : IAsyncDisposable
{
    public const string SshdPath = "/usr/sbin/sshd";
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SshTestServer(Process process, string directory, int port, string clientKey, string knownHosts, string otherKey)
    {
        _process = process;
        Directory = directory;
        Port = port;
        ClientKeyPath = clientKey;
        KnownHostsPath = knownHosts;
        UnauthorizedKeyPath = otherKey;
    }

    public string Directory { get; }
    public int Port { get; }

    /// <summary>The private key sshd accepts (what a deployment gives the GitWorker).</summary>
    public string ClientKeyPath { get; }

    /// <summary>A key sshd does not know.</summary>
    public string UnauthorizedKeyPath { get; }

    /// <summary>known_hosts with this server's host key for [127.0.0.1]:port.</summary>
    public string KnownHostsPath { get; }

    public string User { get; } = Environment.UserName;

    public string Output { get { lock (_output) { return _output.ToString(); } } }

    public string UrlOf(string bareRepositoryPath) => $"ssh://{User}@127.0.0.1:{Port}{bareRepositoryPath}";

    /// <summary>The private key's text without its armour lines: what must never appear outside its file.</summary>
    public string ClientKeySecret() =>
        string.Concat(File.ReadAllLines(ClientKeyPath).Where(l => !l.StartsWith("-----", StringComparison.Ordinal)));

    public static bool IsAvailable => File.Exists(SshdPath);

    public static async Task<SshTestServer> StartAsync(string directory)
    {
        if (!IsAvailable)
        {
            Assert.Fail($"{SshdPath} is missing: install Debian's openssh-server (.ci/run does) for the SSH remote tests.");
        }
        System.IO.Directory.CreateDirectory(directory);
        var hostKey = Path.Combine(directory, "host_ed25519");
        var clientKey = Path.Combine(directory, "deploy_ed25519");
        var otherKey = Path.Combine(directory, "other_ed25519");
        foreach (var key in new[] { hostKey, clientKey, otherKey })
        {
            await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", Path.GetFileName(key), "-f", key);
        }
        var authorizedKeys = Path.Combine(directory, "authorized_keys");
        await File.WriteAllTextAsync(authorizedKeys, await File.ReadAllTextAsync(clientKey + ".pub"));
        var port = FreePort.Next();
        var knownHosts = Path.Combine(directory, "known_hosts");
        var hostPublic = (await File.ReadAllTextAsync(hostKey + ".pub")).Trim().Split(' ');
        await File.WriteAllTextAsync(knownHosts, $"[127.0.0.1]:{port} {hostPublic[0]} {hostPublic[1]}\n");

        // sshd running as root wants its privilege separation folder (Debian's service creates it at boot).
        if (Environment.UserName == "root" && !System.IO.Directory.Exists("/run/sshd"))
        {
            System.IO.Directory.CreateDirectory("/run/sshd");
        }
        var config = Path.Combine(directory, "sshd_config");
        await File.WriteAllTextAsync(config, $"""
            ListenAddress 127.0.0.1
            Port {port}
            HostKey {hostKey}
            PidFile {Path.Combine(directory, "sshd.pid")}
            AuthorizedKeysFile {authorizedKeys}
            AllowUsers {Environment.UserName}
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PermitUserEnvironment no
            AllowTcpForwarding no
            X11Forwarding no
            PrintMotd no
            LogLevel VERBOSE

            """);
        var start = new ProcessStartInfo(SshdPath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // -D: stay in the foreground (the test owns the process); -e: log to stderr; -f: our config only.
        foreach (var argument in new[] { "-D", "-e", "-f", config })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start)!;
        var server = new SshTestServer(process, directory, port, clientKey, knownHosts, otherKey);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (server._output) { server._output.AppendLine(e.Data); } } };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (server._output) { server._output.AppendLine(e.Data); } } };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            if (process.HasExited)
            {
                await server.DisposeAsync();
                Assert.Fail($"sshd exited with {process.ExitCode}:\n{server.Output}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{fileName} {string.Join(' ', arguments)} failed: {await stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
