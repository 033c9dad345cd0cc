using System.Globalization;
using System.Text;

namespace Conductor.Api.GitRemote;

/// <summary>
/// One request to <c>git-upload-pack</c>, read by the Api before git sees it so that what a room may be sent and told
/// is decided here. Protocol v2 (gitprotocol-v2: <c>command=…</c>, capabilities, a delimiter, arguments, a flush):
/// v2's <c>fetch</c> serves any object a client names, whatever refs are hidden, so its wants are checked. Protocol
/// v0/v1 over HTTP is stateless-rpc (gitprotocol-http): want lines (the first with capabilities), shallow and deepen
/// lines, a flush, then have lines ending in a flush or <c>done</c>. In every version upload-pack acknowledges each
/// <c>have</c> whose object the (shared) store holds, so <see cref="Without"/> hands git the request with the haves and
/// shallows the room does not reach taken out. Hand-written: no served .NET package reads git's pkt-line protocol.
/// </summary>
public sealed class UploadPackRequest
{
    /// <summary>
    /// The most <c>have</c> and <c>shallow</c> lines one request may name. git's client sends haves in rounds that
    /// double up to 16384 over stateless HTTP (fetch-pack's <c>LARGE_FLUSH</c>), plus the common ones it replays, and
    /// gives up after 256 in vain once the server has acknowledged one; past this, a request is not a negotiation.
    /// </summary>
    public const int MaxNamedCommits = 65536;

    private readonly IReadOnlyList<(int Start, int Length, string Id)> _named;
    private readonly int _version;

    private UploadPackRequest(int version, string? command, IReadOnlyList<string> wants, IReadOnlyList<string> wantRefs,
        IReadOnlyList<(int Start, int Length, string Id)> named, byte[] raw)
    {
        _version = version;
        Command = command;
        Wants = wants;
        WantRefs = wantRefs;
        _named = named;
        NamedCommits = [.. named.Select(n => n.Id)];
        Raw = raw;
    }

    /// <summary><c>ls-refs</c>, <c>fetch</c>, … (null for an empty request and in protocol v0/v1).</summary>
    public string? Command { get; }
    /// <summary>The object ids of the <c>want</c> lines (protocol v2).</summary>
    public IReadOnlyList<string> Wants { get; }
    /// <summary>The ref names of the <c>want-ref</c> lines (protocol v2).</summary>
    public IReadOnlyList<string> WantRefs { get; }
    /// <summary>
    /// The commit ids the client names in <c>have</c> and <c>shallow</c> lines, in order (all of them: the Api refuses
    /// a request naming more than <see cref="MaxNamedCommits"/> before any is examined).
    /// </summary>
    public IReadOnlyList<string> NamedCommits { get; }
    /// <summary>The bytes read, decompressed.</summary>
    public byte[] Raw { get; }

    /// <summary>
    /// The request as read with every <c>have</c> and <c>shallow</c> packet whose id is not in <paramref name="keep"/>
    /// taken out, everything else byte for byte. Safe for the client: upload-pack then treats it as not having those
    /// commits and sends a larger pack (and a commit the room does not reach cannot bound one it does).
    /// </summary>
    /// <remarks>
    /// In protocol v2 a have taken out becomes a have of the all-zero id (no object has it) rather than nothing:
    /// upload-pack answers a round with an acknowledgments section only when the request has a have line, and git's
    /// client, having sent haves without <c>done</c>, fails on anything else ("expected 'acknowledgments', received
    /// 'packfile'"). v2 acknowledges common objects only, so a have the store lacks is answered by nothing. In v0/v1 a
    /// have the store lacks can be answered (<c>ACK &lt;id&gt; ready</c>), so there it is left out; a round with no
    /// haves left is answered with <c>NAK</c>, as git's client expects.
    /// </remarks>
    public byte[] Without(IReadOnlySet<string> keep)
    {
        var result = new MemoryStream(Raw.Length);
        var at = 0;
        foreach (var (start, length, id) in _named)
        {
            if (keep.Contains(id))
            {
                continue;
            }
            result.Write(Raw, at, start - at);
            at = start + length;
            var payload = Encoding.ASCII.GetString(Raw, start + 4, length - 4);
            if (_version == 2 && payload.StartsWith("have ", StringComparison.Ordinal))
            {
                var unknown = Encoding.ASCII.GetBytes("have " + new string('0', id.Length) + payload["have ".Length..][id.Length..]);
                result.Write(PktLine.Header(unknown.Length));
                result.Write(unknown);
            }
        }
        result.Write(Raw, at, Raw.Length - at);
        return result.ToArray();
    }

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

    /// <summary>
    /// Reads one request of protocol <paramref name="version"/>: in v2 up to and including the closing flush packet
    /// (one command per POST), in v0/v1 to the end of the body (the stateless-rpc request holds a flush between its
    /// wants and its haves). Null when the request is not well formed or longer than <paramref name="maxBytes"/>.
    /// </summary>
    public static async Task<UploadPackRequest?> ReadAsync(Stream body, int version, long maxBytes, CancellationToken cancellationToken)
    {
        var raw = new MemoryStream();
        var wants = new List<string>();
        var wantRefs = new List<string>();
        var named = new List<(int Start, int Length, string Id)>();
        string? command = null;
        var header = new byte[4];
        while (true)
        {
            var start = (int)raw.Length;
            var got = await body.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken);
            if (got < header.Length)
            {
                // The end of the body: a v0/v1 request ends here (after its flush or done), a v2 request only when empty.
                return got == 0 && (raw.Length == 0 || version < 2) ? new UploadPackRequest(version, command, wants, wantRefs, named, raw.ToArray()) : null;
            }
            raw.Write(header);
            if (raw.Length > maxBytes
                || !int.TryParse(Encoding.ASCII.GetString(header), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var length))
            {
                return null;
            }
            if (length == 0)
            {
                if (version == 2)
                {
                    return new UploadPackRequest(version, command, wants, wantRefs, named, raw.ToArray());
                }
                continue; // v0/v1: the flush after the wants, or the end of a round of haves
            }
            if (length is 1 or 2)
            {
                continue; // delimiter (between capabilities and arguments), response end
            }
            if (await PktLine.ReadPayloadAsync(body, length, raw, maxBytes, cancellationToken) is not { } line)
            {
                return null;
            }
            if (line.StartsWith("have ", StringComparison.Ordinal) || line.StartsWith("shallow ", StringComparison.Ordinal))
            {
                var id = line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..];
                if (!PktLine.IsObjectId(id))
                {
                    return null;
                }
                named.Add((start, length, id));
            }
            else if (version < 2)
            {
                continue; // v0/v1 wants must be advertised tips: upload-pack itself refuses any other
            }
            else if (line.StartsWith("command=", StringComparison.Ordinal))
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
