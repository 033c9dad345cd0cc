using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Conductor.Tests.Web;

/// <summary>Steps many browser tests share: a room of one's own, and a second user joining it by invite link.</summary>
internal static class RoomJourney
{
    public static async Task<Guid> CreateRoomAsync(BrowserUser user, string name)
    {
        await user.Page.GetByLabel("Room name", new() { Exact = true }).FillAsync(name);
        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Create room", Exact = true }).ClickAsync();
        await Expect(user.Page.GetByRole(AriaRole.Heading, new() { Name = name })).ToBeVisibleAsync();
        await Expect(user.Page.GetByRole(AriaRole.Status).GetByText("Live")).ToBeVisibleAsync();
        return Guid.Parse(user.Page.Url.Split('/').Last());
    }

    /// <summary>The host copies an invite link; the guest opens it signed out, signs in there and joins.</summary>
    public static async Task InviteAsync(BrowserUser host, BrowserUser guest)
    {
        await host.Page.GetByRole(AriaRole.Button, new() { Name = "Copy invite link", Exact = true }).ClickAsync();
        var invite = new Uri(await host.Page.GetByLabel("Invite link", new() { Exact = true }).InputValueAsync());
        await guest.SignInAsync(invite.PathAndQuery);
        await guest.Page.GetByRole(AriaRole.Button, new() { Name = "Join room", Exact = true }).ClickAsync();
        await Expect(guest.Page.GetByRole(AriaRole.Status).GetByText("Live")).ToBeVisibleAsync();
    }
}
