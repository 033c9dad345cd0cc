using System.Globalization;
using System.Text;

namespace Conductor.Api.GitRemote;

/// <summary>
/// One protocol v2 request to <c>git-upload-pack</c> (gitprotocol-v2: <c>command=…</c>, capabilities, a delimiter,
/// arguments, a flush), read by the Api before git sees it so that what a room may be sent is decided here: v2's
/// <c>fetch</c> serves any object a client names, whatever refs are hidden. Hand-written: no served .NET package reads
/// git's pkt-line protocol.
/// </summary>
public sealed class UploadPackRequest
{
    private UploadPackRequest(string? command, IReadOnlyList<string> wants, IReadOnlyList<string> wantRefs, byte[] raw)
    {
        Command = command;
        Wants = wants;
        WantRefs = wantRefs;
        Raw = raw;
    }

    /// <summary><c>ls-refs</c>, <c>fetch</c>, … (null for an empty request).</summary>
    public string? Command { get; }
    /// <summary>The object ids of the <c>want</c> lines.</summary>
    public IReadOnlyList<string> Wants { get; }
    /// <summary>The ref names of the <c>want-ref</c> lines.</summary>
    public IReadOnlyList<string> WantRefs { get; }
    /// <summary>The bytes read, to hand to git.</summary>
    public byte[] Raw { get; }

    /// <summary>
    /// The highest <c>version=N</c> of a <c>Git-Protocol</c> header, as git's server reads <c>GIT_PROTOCOL</c>
    /// (colon-separated keys): 0 when there is none.
    /// </summary>
    public static int ProtocolVersion(string? header)
    {
        var version = 0;
        foreach (var item in (header ?? "").Split(':'))
        {
            if (item.StartsWith("version=", StringComparison.Ordinal)
                && int.TryParse(item["version=".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is 1 or 2 && v > version)
            {
                version = v;
            }
        }
        return version;
    }

    /// <summary>Reads up to and including the closing flush packet; null when the request is not well formed or longer than <paramref name="maxBytes"/>.</summary>
    public static async Task<UploadPackRequest?> ReadAsync(Stream body, long maxBytes, CancellationToken cancellationToken)
    {
        var raw = new MemoryStream();
        var wants = new List<string>();
        var wantRefs = new List<string>();
        string? command = null;
        var header = new byte[4];
        while (true)
        {
            if (!await PktLine.ReadExactlyAsync(body, header, cancellationToken))
            {
                return raw.Length == 0 ? new UploadPackRequest(null, wants, wantRefs, []) : null;
            }
            raw.Write(header);
            if (!int.TryParse(Encoding.ASCII.GetString(header), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var length))
            {
                return null;
            }
            if (length == 0)
            {
                return new UploadPackRequest(command, wants, wantRefs, raw.ToArray());
            }
            if (length is 1 or 2)
            {
                continue; // delimiter (between capabilities and arguments), response end
            }
            if (await PktLine.ReadPayloadAsync(body, length, raw, maxBytes, cancellationToken) is not { } line)
            {
                return null;
            }
            if (line.StartsWith("command=", StringComparison.Ordinal))
            {
                command ??= line["command=".Length..];
            }
            else if (line.StartsWith("want-ref ", StringComparison.Ordinal))
            {
                wantRefs.Add(line["want-ref ".Length..]);
            }
            else if (line.StartsWith("want ", StringComparison.Ordinal))
            {
                var id = line["want ".Length..];
                if (!PktLine.IsObjectId(id))
                {
                    return null;
                }
                wants.Add(id);
            }
        }
    }

    /// <summary>An answer git shows as <c>fatal: remote error: {message}</c>: one ERR packet.</summary>
    public static byte[] Error(string message)
    {
        var payload = Encoding.UTF8.GetBytes("ERR " + message + "\n");
        return [.. PktLine.Header(payload.Length), .. payload];
    }
}
