namespace Conductor.Api.Rooms;

public sealed class InviteOptions
{
    public const string SectionName = "Rooms:Invites";

    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(7);

    /// <summary>Lifetime when the request gives none.</summary>
    public TimeSpan Lifetime { get; set; } = DefaultLifetime;

    /// <summary>The longest lifetime a request may ask for.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromDays(30);
}
