using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Auth;

/// <summary>
/// Authenticates a WebSocket request by the single-use ticket in its query (<see cref="SocketTickets"/>). The bearer
/// scheme forwards here only for socket requests that carry a ticket, so an access token is never read from a URL.
/// </summary>
public sealed class SocketTicketHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    SocketTickets tickets) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (SocketTicketDefaults.FindTicket(Request) is not { } ticket)
        {
            return AuthenticateResult.NoResult();
        }
        return await tickets.RedeemAsync(ticket, Context.RequestAborted) is { } redeemed
            ? AuthenticateResult.Success(redeemed)
            : AuthenticateResult.Fail("The socket ticket is unknown, expired or already used: get a new one from POST /auth/socket-ticket.");
    }
}
