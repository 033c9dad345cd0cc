using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace Conductor.Api.Rooms;

/// <summary>
/// Invite tokens: invite id, room id and expiry, encrypted and authenticated with Data Protection (the shared key
/// ring, so any instance redeems any instance's invite). A tampered token fails authentication as a whole.
/// </summary>
public sealed class InviteTokenCodec(IDataProtectionProvider dataProtection)
{
    private const int PayloadLength = 16 + 16 + 8;
    private const int MaxTokenLength = 512;

    private readonly IDataProtector _protector = dataProtection.CreateProtector("Conductor.Rooms.Invite.v1");

    public string Create(InviteClaims claims)
    {
        Span<byte> payload = stackalloc byte[PayloadLength];
        claims.InviteId.TryWriteBytes(payload[..16]);
        claims.RoomId.TryWriteBytes(payload[16..32]);
        BinaryPrimitives.WriteInt64BigEndian(payload[32..], claims.ExpiresAt.ToUnixTimeMilliseconds());
        return Base64Url.EncodeToString(_protector.Protect(payload.ToArray()));
    }

    /// <summary>Null when the token is malformed, tampered with, or from another key ring.</summary>
    public InviteClaims? Read(string? token)
    {
        if (token is not { Length: > 0 and <= MaxTokenLength })
        {
            return null;
        }
        try
        {
            var payload = _protector.Unprotect(Base64Url.DecodeFromChars(token));
            if (payload.Length != PayloadLength)
            {
                return null;
            }
            return new InviteClaims(new Guid(payload.AsSpan(0, 16)), new Guid(payload.AsSpan(16, 16)),
                DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(32))));
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            return null;
        }
    }
}
