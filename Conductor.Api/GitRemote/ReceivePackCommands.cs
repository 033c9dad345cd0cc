using System.Globalization;
using System.Text;

namespace Conductor.Api.GitRemote;

/// <summary>
/// The command list at the head of a <c>git-receive-pack</c> request (pkt-lines up to the first flush, before the
/// pack), read by the Api so that which refs a push may touch is decided here, before git sees a byte, and a refusal
/// goes back to the client in receive-pack's own report format (<c>! [remote rejected] ref (reason)</c>).
/// Hand-written: no served .NET package reads or writes git's pkt-line protocol.
/// </summary>
public sealed class ReceivePackCommands
{
    /// <summary>The command list is a few lines per ref; more than this is not a push git would send.</summary>
    public const int MaxBytes = 1 << 20;

    private ReceivePackCommands(IReadOnlyList<RefUpdate> updates, IReadOnlySet<string> capabilities, byte[] raw)
    {
        Updates = updates;
        Capabilities = capabilities;
        Raw = raw;
    }

    public IReadOnlyList<RefUpdate> Updates { get; }
    public IReadOnlySet<string> Capabilities { get; }
    /// <summary>The bytes read, to hand to git before the rest of the request.</summary>
    public byte[] Raw { get; }

    /// <summary>Reads up to and including the flush packet; null when the request is not a well-formed command list.</summary>
    public static async Task<ReceivePackCommands?> ReadAsync(Stream body, CancellationToken cancellationToken)
    {
        var raw = new MemoryStream();
        var updates = new List<RefUpdate>();
        var capabilities = new HashSet<string>(StringComparer.Ordinal);
        var header = new byte[4];
        while (true)
        {
            if (!await PktLine.ReadExactlyAsync(body, header, cancellationToken))
            {
                return null;
            }
            raw.Write(header);
            if (!int.TryParse(Encoding.ASCII.GetString(header), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var length))
            {
                return null;
            }
            if (length == 0)
            {
                return new ReceivePackCommands(updates, capabilities, raw.ToArray());
            }
            if (await PktLine.ReadPayloadAsync(body, length, raw, MaxBytes, cancellationToken) is not { } line)
            {
                return null;
            }
            var nul = line.IndexOf('\0', StringComparison.Ordinal);
            if (nul >= 0)
            {
                foreach (var capability in line[(nul + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    capabilities.Add(capability);
                }
                line = line[..nul];
            }
            if (line.StartsWith("shallow ", StringComparison.Ordinal))
            {
                continue; // a push from a shallow clone names its shallow commits first
            }
            var parts = line.Split(' ');
            if (parts.Length != 3 || !PktLine.IsObjectId(parts[0]) || !PktLine.IsObjectId(parts[1]))
            {
                return null; // push certificates and anything else Conductor does not take
            }
            updates.Add(new RefUpdate(parts[0], parts[1], parts[2]));
        }
    }

    /// <summary>
    /// receive-pack's answer refusing every command with <paramref name="reason"/>, plus a "remote:" line, in the
    /// side band when the client asked for one. Only valid when the client asked for <c>report-status</c>.
    /// </summary>
    public byte[] Refusal(string message, Func<RefUpdate, string?> reasonFor)
    {
        var report = new MemoryStream();
        WritePacket(report, "unpack ok\n"u8);
        foreach (var update in Updates)
        {
            var reason = reasonFor(update);
            WritePacket(report, Encoding.UTF8.GetBytes(reason is null
                ? $"ng {update.Ref} not applied: another ref in this push was refused\n"
                : $"ng {update.Ref} {reason}\n"));
        }
        report.Write("0000"u8);
        if (!Capabilities.Contains("side-band-64k") && !Capabilities.Contains("side-band"))
        {
            return report.ToArray();
        }
        var banded = new MemoryStream();
        WritePacket(banded, [2, .. Encoding.UTF8.GetBytes($"Conductor: {message}\n")]);
        var bytes = report.ToArray();
        const int chunk = 65515 - 1; // side-band-64k: 65520 per packet, 4 of length, 1 of band
        for (var offset = 0; offset < bytes.Length; offset += chunk)
        {
            var length = Math.Min(chunk, bytes.Length - offset);
            WritePacket(banded, [1, .. bytes.AsSpan(offset, length)]);
        }
        banded.Write("0000"u8);
        return banded.ToArray();
    }

    public bool WantsReport => Capabilities.Contains("report-status") || Capabilities.Contains("report-status-v2");

    private static void WritePacket(Stream stream, ReadOnlySpan<byte> payload)
    {
        stream.Write(PktLine.Header(payload.Length));
        stream.Write(payload);
    }
}
