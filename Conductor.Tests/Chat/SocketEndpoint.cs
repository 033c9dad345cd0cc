namespace Conductor.Tests.Chat;

/// <summary>A socket to open and the access token it sends in its Authorization header (never in the URL); null connects anonymously.</summary>
public sealed record SocketEndpoint(Uri Url, string? AccessToken)
{
    public void Apply(System.Net.WebSockets.ClientWebSocketOptions options)
    {
        if (AccessToken is not null)
        {
            options.SetRequestHeader("Authorization", "Bearer " + AccessToken);
        }
    }
}
