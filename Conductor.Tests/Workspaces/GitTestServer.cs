using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// Real git remotes over smart HTTP: Kestrel on 127.0.0.1 running <c>git http-backend</c> as a CGI program for
/// the bare repositories under <see cref="ProjectRoot"/>, behind HTTP basic auth (any user name, the password must
/// be <see cref="Token"/>). Every fetch and push of the tests' remotes needs the token libgit2 gets from its credentials callback.
/// </summary>
internal sealed class GitTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GitTestServer(WebApplication app, string projectRoot, string token)
    {
        _app = app;
        ProjectRoot = projectRoot;
        Token = token;
    }

    public string ProjectRoot { get; }
    public string Token { get; }
    public Uri BaseUrl { get; private set; } = null!;
    public ConcurrentQueue<string> Requests { get; } = new();
    public int Unauthorized => _unauthorized;
    public int Authorized => _authorized;

    /// <summary>Delay per 64 KiB of a response body: makes a clone slow enough to kill a worker in the middle of it.</summary>
    public TimeSpan ThrottlePerChunk { get; set; }

    private int _unauthorized;
    private int _authorized;

    public string UrlOf(string repository) => new Uri(BaseUrl, $"git/{repository}").ToString();

    public static async Task<GitTestServer> StartAsync(string projectRoot, string token)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new GitTestServer(app, projectRoot, token);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/");
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        Requests.Enqueue($"{request.Method} {request.Path}{request.QueryString}");
        if (!request.Path.StartsWithSegments("/git", out var pathInfo))
        {
            context.Response.StatusCode = 404;
            return;
        }
        if (!IsAuthorized(request.Headers.Authorization.ToString(), out var user))
        {
            Interlocked.Increment(ref _unauthorized);
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"conductor-tests\"";
            return;
        }
        Interlocked.Increment(ref _authorized);

        var start = new ProcessStartInfo("git", ["http-backend"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["GIT_PROJECT_ROOT"] = ProjectRoot;
        start.Environment["GIT_HTTP_EXPORT_ALL"] = "1";
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["REQUEST_METHOD"] = request.Method;
        start.Environment["PATH_INFO"] = pathInfo.Value ?? "/";
        start.Environment["QUERY_STRING"] = request.QueryString.HasValue ? request.QueryString.Value![1..] : "";
        start.Environment["CONTENT_TYPE"] = request.ContentType ?? "";
        start.Environment["REMOTE_USER"] = user;
        start.Environment["REMOTE_ADDR"] = "127.0.0.1";
        if (request.Headers.ContentEncoding.ToString() is { Length: > 0 } encoding)
        {
            start.Environment["HTTP_CONTENT_ENCODING"] = encoding;
        }
        if (request.Headers["Git-Protocol"].ToString() is { Length: > 0 } protocol)
        {
            start.Environment["GIT_PROTOCOL"] = protocol;
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await request.Body.CopyToAsync(process.StandardInput.BaseStream);
        process.StandardInput.Close();

        var output = process.StandardOutput.BaseStream;
        var headerBytes = new List<byte>();
        var one = new byte[1];
        while (await output.ReadAsync(one) == 1)
        {
            headerBytes.Add(one[0]);
            var n = headerBytes.Count;
            if (n >= 2 && headerBytes[n - 1] == '\n' && (headerBytes[n - 2] == '\n' || (n >= 4 && headerBytes[n - 2] == '\r' && headerBytes[n - 3] == '\n')))
            {
                break;
            }
        }
        foreach (var line in Encoding.ASCII.GetString([.. headerBytes]).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Status", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.StatusCode = int.Parse(value.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                context.Response.Headers.Append(name, value);
            }
        }
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await output.ReadAsync(buffer)) > 0)
        {
            await context.Response.Body.WriteAsync(buffer.AsMemory(0, read));
            await context.Response.Body.FlushAsync();
            if (ThrottlePerChunk > TimeSpan.Zero)
            {
                await Task.Delay(ThrottlePerChunk);
            }
        }
        await process.WaitForExitAsync();
        await stderr;
    }

    private bool IsAuthorized(string header, out string user)
    {
        user = "";
        if (!header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return false;
        }
        var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..]));
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return false;
        }
        user = decoded[..colon];
        return decoded[(colon + 1)..] == Token;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Plain git for test set-up (the code under test has its own wrapper), argv only.</summary>
internal static class TestGit
{
    public static string Run(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("git")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_AUTHOR_NAME"] = start.Environment["GIT_COMMITTER_NAME"] = "Test Setup";
        start.Environment["GIT_AUTHOR_EMAIL"] = start.Environment["GIT_COMMITTER_EMAIL"] = "setup@example.invalid";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed in {directory}: {stderr}");
        }
        return stdout.Result;
    }

    /// <summary>
    /// A bare repository named <paramref name="name"/> under <paramref name="projectRoot"/> with one commit on main:
    /// a README, a source file, a .gitignore ignoring <c>ignored/</c>, and <paramref name="bulkBytes"/> of incompressible data.
    /// </summary>
    public static string CreateRemote(string projectRoot, string name, int bulkBytes = 0)
    {
        var bare = Path.Combine(projectRoot, name);
        Directory.CreateDirectory(bare);
        Run(bare, "init", "--quiet", "--bare", "--initial-branch=main");
        Run(bare, "config", "http.receivepack", "true");
        var seed = Path.Combine(projectRoot, name + ".seed");
        Directory.CreateDirectory(seed);
        Run(seed, "init", "--quiet", "--initial-branch=main");
        File.WriteAllText(Path.Combine(seed, "README.md"), "# Team repository\nHello Conductor\n");
        Directory.CreateDirectory(Path.Combine(seed, "src"));
        File.WriteAllText(Path.Combine(seed, "src", "app.cs"), "class App\n{\n    static void Main() => System.Console.WriteLine(\"hello\");\n}\n");
        File.WriteAllText(Path.Combine(seed, ".gitignore"), "ignored/\n");
        if (bulkBytes > 0)
        {
            Directory.CreateDirectory(Path.Combine(seed, "data"));
            var random = new Random(42);
            for (var i = 0; i < 8; i++)
            {
                var chunk = new byte[bulkBytes / 8];
                random.NextBytes(chunk);
                File.WriteAllBytes(Path.Combine(seed, "data", $"blob{i}.bin"), chunk);
            }
        }
        Run(seed, "add", "--all");
        Run(seed, "commit", "--quiet", "-m", "initial");
        Run(seed, "push", "--quiet", bare, "main");
        Directory.Delete(seed, recursive: true);
        return bare;
    }
}
