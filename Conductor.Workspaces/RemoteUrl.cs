using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Conductor.Workspaces;

/// <summary>A remote that passed validation: what git is given, and the key its shared object store is named by.</summary>
public sealed record RemoteUrl(string GitUrl, string NormalizedUrl)
{
    /// <summary>The store folder's name: a hash, so no part of a URL ever becomes a path.</summary>
    public string StoreId { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(NormalizedUrl)))[..32];

    /// <summary>An SSH remote: authenticated with the deployment's key (<see cref="WorkspaceOptions.SshKeyPath"/>), never a token.</summary>
    public bool IsSsh => NormalizedUrl.StartsWith("ssh://", StringComparison.Ordinal);

    public override string ToString() => GitUrl;
}

public sealed class RemoteUrlException(string message) : Exception(message);

/// <summary>
/// Checks a remote before git ever sees it: https only unless configuration allows http or file (or configures an
/// SSH key, for <c>ssh://</c> and scp-like <c>user@host:path</c>), no credentials in the URL, and (against SSRF) no host that resolves to a loopback, private, link-local or otherwise
/// non-public address unless configuration allows private networks.
/// </summary>
public static class RemoteUrlValidator
{
    public const int MaxLength = 2048;

    public static async Task<RemoteUrl> ValidateAsync(string? input, WorkspaceOptions options, CancellationToken cancellationToken)
    {
        var text = input?.Trim() ?? "";
        if (text.Length == 0)
        {
            throw new RemoteUrlException("repo_url is required.");
        }
        if (text.Length > MaxLength)
        {
            throw new RemoteUrlException($"repo_url is longer than {MaxLength} characters.");
        }
        if (text.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            throw new RemoteUrlException("repo_url must not contain spaces or control characters.");
        }

        if (ScpLike(text) is { } scp)
        {
            if (!options.SshEnabled)
            {
                throw new RemoteUrlException("SSH remotes are not enabled here (no deployment key); use an https URL.");
            }
            // git's scp-like form: a path without a leading '/' is relative to the SSH user's home, which an ssh://
            // URL spells "/~/path"; the store key keeps that difference, libgit2 gets the text as written.
            var (user, host, scpPath) = scp;
            var sshUri = new Uri($"ssh://{(user is null ? "" : user + "@")}{host}/{(scpPath.StartsWith('/') ? scpPath[1..] : "~/" + scpPath)}");
            return await ValidatedSshAsync(sshUri, text, options, cancellationToken).ConfigureAwait(false);
        }

        if (text.StartsWith('/'))
        {
            if (!options.AllowFile)
            {
                throw new RemoteUrlException("Local paths are not allowed as remotes here; use an https URL.");
            }
            text = new Uri(Path.GetFullPath(text)).AbsoluteUri;
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            throw new RemoteUrlException("repo_url is not an absolute URL (https://host/owner/repo.git).");
        }

        switch (uri.Scheme)
        {
            case "https":
                break;
            case "http" when options.AllowHttp:
                break;
            case "file" when options.AllowFile:
                if (!string.IsNullOrEmpty(uri.Host))
                {
                    throw new RemoteUrlException("file:// remotes must name a local path (file:///path).");
                }
                var local = uri.LocalPath.TrimEnd('/');
                return new RemoteUrl(uri.AbsoluteUri, "file://" + (local.Length == 0 ? "/" : local));
            case "ssh" when options.SshEnabled:
                return await ValidatedSshAsync(uri, uri.OriginalString, options, cancellationToken).ConfigureAwait(false);
            case "ssh":
                throw new RemoteUrlException("SSH remotes are not enabled here (no deployment key); use an https URL.");
            case "http" or "file":
                throw new RemoteUrlException($"{uri.Scheme} remotes are not allowed here; use an https URL.");
            default:
                throw new RemoteUrlException($"The {uri.Scheme} scheme is not supported; use an https URL.");
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            throw new RemoteUrlException("repo_url must not carry credentials; send the token in the token field.");
        }
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new RemoteUrlException("repo_url must not have a query or fragment.");
        }
        if (uri.AbsolutePath.Trim('/').Length == 0)
        {
            throw new RemoteUrlException("repo_url must name a repository (https://host/owner/repo.git).");
        }
        if (!options.AllowPrivateNetworks)
        {
            await EnsurePublicHostAsync(uri, cancellationToken).ConfigureAwait(false);
        }

        var path = uri.AbsolutePath.TrimEnd('/');
        if (path.EndsWith(".git", StringComparison.OrdinalIgnoreCase))
        {
            path = path[..^4];
        }
        var port = uri.IsDefaultPort ? "" : $":{uri.Port}";
        var normalized = $"{uri.Scheme}://{uri.IdnHost.ToLowerInvariant()}{port}{path}";
        return new RemoteUrl(uri.AbsoluteUri, normalized);
    }

    /// <summary>git's <c>[user@]host:path</c> (no scheme, a ':' before any '/'), or null.</summary>
    private static (string? User, string Host, string Path)? ScpLike(string text)
    {
        if (text.Contains("://", StringComparison.Ordinal))
        {
            return null;
        }
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (colon <= 0 || (slash >= 0 && slash < colon) || colon == text.Length - 1)
        {
            return null;
        }
        var authority = text[..colon];
        var at = authority.LastIndexOf('@');
        return (at < 0 ? null : authority[..at], at < 0 ? authority : authority[(at + 1)..], text[(colon + 1)..]);
    }

    private static async Task<RemoteUrl> ValidatedSshAsync(Uri uri, string gitUrl, WorkspaceOptions options, CancellationToken cancellationToken)
    {
        // A user name only (git@): a password has no place in an SSH URL, and a name starting with '-' could be read by
        // ssh as an option.
        var user = Uri.UnescapeDataString(uri.UserInfo);
        if (user.Length > 0 && (user.Contains(':', StringComparison.Ordinal) || user.StartsWith('-') || !user.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')))
        {
            throw new RemoteUrlException("An SSH URL may name a user (git@host) but carry no password or unusual characters.");
        }
        if (uri.IdnHost.Length == 0 || uri.IdnHost.StartsWith('-'))
        {
            throw new RemoteUrlException("An SSH URL needs a host (ssh://git@host/owner/repo.git).");
        }
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new RemoteUrlException("repo_url must not have a query or fragment.");
        }
        var path = Uri.UnescapeDataString(uri.AbsolutePath).TrimEnd('/');
        if (path.Trim('/', '~').Length == 0 || path.Any(c => c is '\'' or '"' or '\\' or '`' or '$' || char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new RemoteUrlException("An SSH URL must name a repository path without spaces, quotes, '$' or backslashes.");
        }
        if (!options.AllowPrivateNetworks)
        {
            await EnsurePublicHostAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        if (path.EndsWith(".git", StringComparison.OrdinalIgnoreCase))
        {
            path = path[..^4];
        }
        var port = uri.IsDefaultPort || uri.Port == 22 ? "" : $":{uri.Port}";
        var normalized = $"ssh://{(user.Length == 0 ? "" : user + "@")}{uri.IdnHost.ToLowerInvariant()}{port}{path}";
        return new RemoteUrl(gitUrl, normalized);
    }

    private static async Task EnsurePublicHostAsync(Uri uri, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        if (IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(uri.IdnHost, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                throw new RemoteUrlException($"The host {uri.IdnHost} does not resolve.");
            }
        }
        if (addresses.Length == 0 || addresses.Any(IsNonPublic))
        {
            throw new RemoteUrlException($"The host {uri.IdnHost} is on a private, loopback or link-local network; such remotes are not allowed here.");
        }
    }

    public static bool IsNonPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 or 10 or 127 => true,
                100 => b[1] is >= 64 and <= 127,          // carrier-grade NAT
                169 => b[1] == 254,                       // link-local (cloud metadata lives here)
                172 => b[1] is >= 16 and <= 31,
                192 => (b[1] == 168) || (b[1] == 0 && b[2] is 0 or 2),
                198 => b[1] is 18 or 19 || (b[1] == 51 && b[2] == 100),
                203 => b[1] == 0 && b[2] == 113,
                >= 224 => true,                           // multicast, reserved, broadcast
                _ => false,
            };
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast)
            {
                return true;
            }
            var b = address.GetAddressBytes();
            return (b[0] & 0xFE) == 0xFC                  // unique local fc00::/7
                || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8); // documentation
        }
        return true;
    }
}
