namespace Conductor.Api.Auth;

/// <summary>
/// One live connection of a session, tracked by <see cref="SessionConnections"/> until disposed. The connection ends
/// itself when <see cref="SignedOut"/> fires (register a callback, or link it into the connection's own token).
/// </summary>
public sealed class SessionConnection : IDisposable
{
    private readonly SessionConnections _owner;
    private readonly CancellationTokenSource _signedOut = new();

    internal SessionConnection(SessionConnections owner, Guid? sessionId)
    {
        _owner = owner;
        SessionId = sessionId;
    }

    /// <summary>The session (refresh-token family); null for a token issued before sessions were named.</summary>
    public Guid? SessionId { get; }

    /// <summary>Cancelled when the session signs out, on whichever instance that happened.</summary>
    public CancellationToken SignedOut => _signedOut.Token;

    public bool IsSignedOut => _signedOut.IsCancellationRequested;

    /// <summary>Fires <see cref="SignedOut"/>: its callbacks run on the thread pool, not on the caller's thread.</summary>
    internal async Task SignOutAsync()
    {
        try
        {
            await _signedOut.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The connection ended on its own meanwhile.
        }
    }

    public void Dispose()
    {
        _owner.Untrack(this);
        _signedOut.Dispose();
    }
}
