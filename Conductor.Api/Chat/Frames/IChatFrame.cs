namespace Conductor.Api.Chat;

/// <summary>
/// A server frame's shape, written once as a record: the raw socket sends its snake_case JSON, the hub the same JSON
/// as its event's argument. <see cref="Type"/> is the frame's <c>type</c> member (docs/chat.md lists them).
/// </summary>
public interface IChatFrame
{
    string Type { get; }
}
