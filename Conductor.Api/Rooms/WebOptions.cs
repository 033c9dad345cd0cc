namespace Conductor.Api.Rooms;

/// <summary>Where the web app is, for links the Api hands out (invites).</summary>
public sealed class WebOptions
{
    public const string SectionName = "Web";

    /// <summary>
    /// The web app's public URL. Unset, the AppHost's <c>services__web__http__0</c> is used; with neither, links are
    /// relative (<c>/join?token=...</c>) for the client to resolve against the web app it runs in.
    /// </summary>
    public Uri? PublicUrl { get; set; }

    public string JoinUrl(string token) =>
        (PublicUrl is null ? "" : PublicUrl.AbsoluteUri.TrimEnd('/')) + "/join?token=" + Uri.EscapeDataString(token);
}
