using Microsoft.AspNetCore.Authentication;

namespace Conductor.Api.Auth;

/// <summary>
/// The bearer scheme's token format with one more check: a token of a signed-out session unprotects to nothing, so
/// the bearer handler refuses it (401) exactly as it refuses a forged one. The framework's bearer handler has no
/// validation event to hook instead; this wrapper is the small piece written by hand.
/// </summary>
public sealed class RevocationCheckingTicketFormat(ISecureDataFormat<AuthenticationTicket> inner, SessionRevocations revocations)
    : ISecureDataFormat<AuthenticationTicket>
{
    public string Protect(AuthenticationTicket data) => inner.Protect(data);

    public string Protect(AuthenticationTicket data, string? purpose) => inner.Protect(data, purpose);

    public AuthenticationTicket? Unprotect(string? protectedText) => Check(inner.Unprotect(protectedText));

    public AuthenticationTicket? Unprotect(string? protectedText, string? purpose) => Check(inner.Unprotect(protectedText, purpose));

    private AuthenticationTicket? Check(AuthenticationTicket? ticket) =>
        ticket is not null && revocations.IsRevoked(ticket.Principal.GetSessionId()) ? null : ticket;
}
