using System.Diagnostics;
using System.Globalization;
using System.Text;
using Conductor.Workspaces;
using Microsoft.Extensions.Options;

namespace Conductor.Api.GitRemote;

/// <summary>
/// Runs <c>git http-backend</c> (git's own smart-HTTP server) as a CGI program for one request and streams its answer
/// to the response. The child gets an environment built from nothing: the CGI variables, <c>PATH</c>, and git settings
/// as <c>GIT_CONFIG_COUNT</c> entries (no system or global config). The Authorization header is never passed on, so
/// no token reaches the child's argv or environment, and none of the Api's own settings (connection strings) either.
/// Hand-written CGI glue: ASP.NET Core has no CGI host.
/// </summary>
public sealed partial class GitHttpBackend(IOptions<WorkspaceOptions> workspaceOptions, ILogger<GitHttpBackend> logger)
{
    /// <summary>Runs the request; returns the HTTP status git answered with.</summary>
    public async Task<int> RunAsync(GitBackendRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        var options = workspaceOptions.Value;
        var start = new ProcessStartInfo(options.GitPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("http-backend");
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        start.Environment["HOME"] = Path.Combine(options.ScratchPath, "no-git-config");
        start.Environment["LC_ALL"] = "C";
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        start.Environment["GIT_PROJECT_ROOT"] = request.ProjectRoot;
        start.Environment["GIT_HTTP_EXPORT_ALL"] = "1";
        start.Environment["PATH_INFO"] = request.PathInfo;
        start.Environment["REQUEST_METHOD"] = request.Method;
        start.Environment["QUERY_STRING"] = request.QueryString;
        start.Environment["REMOTE_USER"] = request.RemoteUser;
        start.Environment["REMOTE_ADDR"] = request.RemoteAddress ?? "";
        start.Environment["GATEWAY_INTERFACE"] = "CGI/1.1";
        start.Environment["SERVER_PROTOCOL"] = "HTTP/1.1";
        if (request.ContentType is not null)
        {
            start.Environment["CONTENT_TYPE"] = request.ContentType;
        }
        if (request.ContentEncoding is not null)
        {
            start.Environment["HTTP_CONTENT_ENCODING"] = request.ContentEncoding;
        }
        if (request.GitProtocol is not null)
        {
            // http-backend turns HTTP_GIT_PROTOCOL into GIT_PROTOCOL: how protocol v2 reaches upload-pack.
            start.Environment["HTTP_GIT_PROTOCOL"] = request.GitProtocol;
        }
        start.Environment["GIT_CONFIG_COUNT"] = request.Config.Count.ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i < request.Config.Count; i++)
        {
            start.Environment[$"GIT_CONFIG_KEY_{i}"] = request.Config[i].Key;
            start.Environment[$"GIT_CONFIG_VALUE_{i}"] = request.Config[i].Value;
        }
        Directory.CreateDirectory(start.Environment["HOME"]!);

        using var process = Process.Start(start) ?? throw new InvalidOperationException("git http-backend did not start.");
        await using var kill = cancellationToken.Register(() =>
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        });
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        // Input is written while output is read: receive-pack may answer while a large pack is still arriving.
        var input = Task.Run(async () =>
        {
            try
            {
                var stdin = process.StandardInput.BaseStream;
                await stdin.WriteAsync(request.BodyPrefix, cancellationToken);
                if (request.Body is not null)
                {
                    await request.Body.CopyToAsync(stdin, cancellationToken);
                }
            }
            catch (IOException)
            {
                // git stopped reading (it refused the request): its answer says why.
            }
            finally
            {
                try
                {
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                }
            }
        }, CancellationToken.None);

        var output = new BufferedStream(process.StandardOutput.BaseStream, 64 * 1024);
        var status = await CopyCgiResponseAsync(output, response, cancellationToken);
        await input;
        await process.WaitForExitAsync(CancellationToken.None);
        var errors = await stderr;
        if (process.ExitCode != 0 || errors.Length > 0)
        {
            LogBackendExit(logger, request.Method, request.PathInfo, process.ExitCode, errors.Length > 2000 ? errors[..2000] : errors);
        }
        return process.ExitCode != 0 && status < 400 ? 500 : status;
    }

    private static async Task<int> CopyCgiResponseAsync(Stream output, HttpResponse response, CancellationToken cancellationToken)
    {
        var status = 200;
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            line.Clear();
            while (await output.ReadAsync(one, cancellationToken) == 1 && one[0] != '\n')
            {
                line.Append((char)one[0]);
            }
            var text = line.ToString().TrimEnd('\r');
            if (text.Length == 0)
            {
                break; // end of the CGI headers (or of the output)
            }
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }
            var name = text[..colon].Trim();
            var value = text[(colon + 1)..].Trim();
            if (name.Equals("Status", StringComparison.OrdinalIgnoreCase))
            {
                status = int.Parse(value.Split(' ')[0], CultureInfo.InvariantCulture);
            }
            else if (!response.HasStarted)
            {
                response.Headers.Append(name, value);
            }
        }
        response.StatusCode = status;
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await output.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
        }
        return status;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "git http-backend {Method} {PathInfo} exited with {ExitCode}: {Errors}")]
    private static partial void LogBackendExit(ILogger logger, string method, string pathInfo, int exitCode, string errors);
}
