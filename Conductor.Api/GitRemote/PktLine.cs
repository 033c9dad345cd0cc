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

    /// <summary>A full SHA-1 or SHA-256 object id in git's lower-case hex.</summary>
    public static bool IsObjectId(string text) => text.Length is 40 or 64 && text.All(char.IsAsciiHexDigitLower);
}
