using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Auth;

/// <summary>
/// Single-use tickets that let a browser open a WebSocket without putting its access token in the URL (browsers cannot
/// set headers on WebSockets, and URLs end up in proxy logs, traces and browser history). A ticket is the caller's
/// identity protected with the shared Data Protection key ring (so any instance accepts it), valid for
/// <see cref="AuthOptions.SocketTicketLifetime"/> and never beyond the access token it was minted with; its first use
/// is recorded in Redis under its random id (not the ticket), so a ticket copied from a log opens nothing; a ticket of a signed-out session opens nothing either.
/// ASP.NET Core has no ticket scheme for sockets; this is the small piece written by hand.
/// </summary>
public sealed partial class SocketTickets(IDataProtectionProvider dataProtection, IConnectionMultiplexer redis, SessionRevocations revocations,
    IOptions<AuthOptions> options,
    TimeProvider time, ILogger<SocketTickets> logger)
{
    private const string IdItem = "ticket_id";

    private readonly TicketDataFormat _format = new(dataProtection.CreateProtector("Conductor.Auth.SocketTicket.v1"));

    /// <summary>A ticket for <paramref name="user"/>; expires with the access token if that comes first.</summary>
    public (string Ticket, TimeSpan Lifetime) Issue(ClaimsPrincipal user, DateTimeOffset? accessTokenExpires)
    {
        var now = time.GetUtcNow();
        var expires = now + options.Value.SocketTicketLifetime;
        if (accessTokenExpires is { } limit && limit < expires)
        {
            expires = limit;
        }
        var properties = new AuthenticationProperties { IssuedUtc = now, ExpiresUtc = expires };
        properties.Items[IdItem] = Guid.NewGuid().ToString("N");
        var identity = new ClaimsIdentity(user.Claims, SocketTicketDefaults.AuthenticationScheme, UserClaims.Login, roleType: null);
        var ticket = new AuthenticationTicket(new ClaimsPrincipal(identity), properties, SocketTicketDefaults.AuthenticationScheme);
        return (_format.Protect(ticket), expires - now);
    }

    /// <summary>The ticket's identity on its first use within its lifetime; null when it is forged, expired or used.</summary>
    public async Task<AuthenticationTicket?> RedeemAsync(string ticket, CancellationToken cancellationToken)
    {
        var unprotected = ticket.Length <= 8 * 1024 ? _format.Unprotect(ticket) : null;
        var now = time.GetUtcNow();
        if (unprotected?.Properties.ExpiresUtc is not { } expires || expires <= now
            || !unprotected.Properties.Items.TryGetValue(IdItem, out var id) || id is null)
        {
            return null;
        }
        // A ticket carries its session: one minted before a sign-out opens nothing after it.
        if (revocations.IsRevoked(unprotected.Principal.GetSessionId()))
        {
            LogSessionRevoked(logger, id);
            return null;
        }
        cancellationToken.ThrowIfCancellationRequested();
        // SET NX: the first redeemer wins, on whichever instance; kept until the ticket has expired anyway.
        var first = await redis.GetDatabase().StringSetAsync("socket-ticket:used:" + id, "1", expires - now + TimeSpan.FromSeconds(1), When.NotExists);
        if (!first)
        {
            LogReplayed(logger, id);
            return null;
        }
        return unprotected;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Socket ticket {TicketId} was presented again after its one use; refused")]
    private static partial void LogReplayed(ILogger logger, string ticketId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Socket ticket {TicketId} belongs to a signed-out session; refused")]
    private static partial void LogSessionRevoked(ILogger logger, string ticketId);
}
