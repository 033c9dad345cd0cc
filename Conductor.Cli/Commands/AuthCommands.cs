using System.CommandLine;
using System.Text;
using System.Text.Json;

namespace Conductor.Cli.Commands;

/// <summary><c>login</c>, <c>whoami</c>, <c>logout</c> and <c>credential</c> (git's credential helper protocol).</summary>
public static class AuthCommands
{
    public static Command Login()
    {
        var dev = new Option<string?>("--dev") { Description = "Sign in with the server's development login as this name (only where the server allows it)" };
        var command = new Command("login", "Sign in (GitHub's device flow, or --dev NAME on a development server)") { dev };
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            TokenResponse tokens;
            if (result.GetValue(dev) is { } login)
            {
                tokens = await client.SendAsync<TokenResponse>(HttpMethod.Post, "auth/dev", new { login }, cancellationToken, anonymous: true);
            }
            else
            {
                var device = await client.SendAsync<JsonElement>(HttpMethod.Post, "auth/github/device", new { }, cancellationToken, anonymous: true);
                var code = device.GetProperty("user_code").GetString();
                var uri = device.GetProperty("verification_uri").GetString();
                var interval = Math.Max(1, device.GetProperty("interval").GetInt32());
                var deviceCode = device.GetProperty("device_code").GetString();
                Console.Error.WriteLine($"Open {uri} and enter the code {code}. Waiting for you to approve…");
                while (true)
                {
                    await Task.Delay(TimeSpan.FromSeconds(interval), cancellationToken);
                    var poll = await client.SendAsync<JsonElement>(HttpMethod.Post, "auth/github/poll", new { device_code = deviceCode }, cancellationToken, anonymous: true);
                    if (poll.TryGetProperty("access_token", out _))
                    {
                        tokens = poll.Deserialize<TokenResponse>(ConductorClient.Json)!;
                        break;
                    }
                    if (poll.TryGetProperty("interval", out var next))
                    {
                        interval = Math.Max(interval, next.GetInt32());
                    }
                }
            }
            var session = client.SessionFrom(tokens);
            client.Remember(session);
            output.Result(new { server = session.Server, user_id = session.UserId, login = session.Login, expires_at = session.ExpiresAt },
                () => $"Signed in to {session.Server} as {session.Login}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command WhoAmI()
    {
        var command = new Command("whoami", "Show who you are signed in as");
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            using var client = GlobalOptions.ClientFor(result);
            var me = await client.GetAsync<JsonElement>("auth/me", cancellationToken);
            output.Result(new { server = client.Server.ToString().TrimEnd('/'), user_id = me.GetProperty("id").GetGuid(), login = me.GetProperty("login").GetString() },
                () => $"{me.GetProperty("login").GetString()} on {client.Server.ToString().TrimEnd('/')}");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Logout()
    {
        var command = new Command("logout", "Sign out: the server revokes the session's tokens and the local file is deleted");
        command.SetHandler(async (result, output, cancellationToken) =>
        {
            var config = new ConfigStore();
            if (config.Read() is not { } session)
            {
                output.Result(new { signed_out = false }, () => "Not signed in.");
                return ExitCodes.Ok;
            }
            using var client = new ConductorClient(config, result.GetValue(GlobalOptions.Server) ?? session.Server);
            var revoked = true;
            try
            {
                await client.SendAsync<JsonElement>(HttpMethod.Post, "auth/revoke", new { refresh_token = session.RefreshToken }, cancellationToken, anonymous: true);
            }
            catch (CliException ex) when (ex.ExitCode == ExitCodes.Unreachable)
            {
                revoked = false; // the local copy goes anyway; the tokens expire on their own
            }
            config.Delete();
            output.Result(new { signed_out = true, revoked },
                () => revoked ? $"Signed out of {session.Server}." : $"Signed out locally; {session.Server} could not be reached to revoke the session.");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// git's credential helper protocol (gitcredentials(7)): <c>get</c> answers with the Conductor access token for the
    /// signed-in server (refreshing it first when needed), on stdout, to git only; <c>store</c> and <c>erase</c> do nothing,
    /// so git never writes the token anywhere.
    /// </summary>
    public static Command Credential()
    {
        var operation = new Argument<string>("operation") { Description = "get, store or erase (git calls this)" };
        var command = new Command("credential", "git credential helper for Conductor remotes (git runs it; you do not)") { operation };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(operation) != "get")
            {
                return ExitCodes.Ok;
            }
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            string? line;
            while (!string.IsNullOrEmpty(line = await Console.In.ReadLineAsync(cancellationToken)))
            {
                var equals = line.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                {
                    fields[line[..equals]] = line[(equals + 1)..];
                }
            }
            var config = new ConfigStore();
            if (config.Read() is not { } session || !fields.TryGetValue("protocol", out var protocol) || !fields.TryGetValue("host", out var host))
            {
                return ExitCodes.Ok; // not ours to answer: git asks the next helper or fails
            }
            using var client = new ConductorClient(config, session.Server);
            if (!string.Equals($"{protocol}://{host}", client.Server.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase))
            {
                return ExitCodes.Ok;
            }
            try
            {
                var token = await client.GetAccessTokenAsync(cancellationToken);
                var answer = new StringBuilder().Append("username=").Append(session.Login).Append('\n').Append("password=").Append(token).Append('\n');
                await Console.Out.WriteAsync(answer.ToString());
                await Console.Out.FlushAsync(cancellationToken);
                return ExitCodes.Ok;
            }
            catch (CliException ex)
            {
                await Console.Error.WriteLineAsync($"conductor: {ex.Message}");
                return ex.ExitCode;
            }
        });
        return command;
    }
}
