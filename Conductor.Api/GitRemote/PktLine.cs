using System.Globalization;
using System.Text;

namespace Conductor.Api.GitRemote;

/// <summary>
/// Git's pkt-line framing (a 4-hex-digit length that counts itself, then the payload), as the checks in front of
/// <c>git http-backend</c> read and write it. No served package parses git's wire protocol; these few lines are ours.
/// </summary>
internal static class PktLine
{
    /// <summary>The 4-byte length prefix of a packet carrying <paramref name="payloadLength"/> bytes.</summary>
    public static byte[] Header(int payloadLength) =>
        Encoding.ASCII.GetBytes((payloadLength + 4).ToString("x4", CultureInfo.InvariantCulture));

    /// <summary>Fills <paramref name="buffer"/>; false when the stream ends first.</summary>
    public static async Task<bool> ReadExactlyAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken) =>
        await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken) == buffer.Length;

    /// <summary>
    /// Reads the payload of a data packet whose header said <paramref name="length"/>, appends it to
    /// <paramref name="raw"/> (the request as read, replayed to git later) and answers it as text without its line
    /// feed; null when the length is not a data packet's, the request would pass <paramref name="maxBytes"/>, or the
    /// stream ends first.
    /// </summary>
    public static async Task<string?> ReadPayloadAsync(Stream body, int length, MemoryStream raw, long maxBytes, CancellationToken cancellationToken)
    {
        if (length < 4 || raw.Length + length > maxBytes)
        {
            return null;
        }
        var payload = new byte[length - 4];
        if (!await ReadExactlyAsync(body, payload, cancellationToken))
        {
            return null;
        }
        raw.Write(payload);
        return Encoding.UTF8.GetString(payload).TrimEnd('\n');
    }

    /// <summary>A full SHA-1 or SHA-256 object id in git's lower-case hex.</summary>
    public static bool IsObjectId(string text) => text.Length is 40 or 64 && text.All(char.IsAsciiHexDigitLower);
}
