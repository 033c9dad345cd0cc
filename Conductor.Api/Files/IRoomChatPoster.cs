namespace Conductor.Api.Files;

/// <summary>
/// Posts the <c>file</c> message an upload announces itself with (<see cref="ChatRoomChatPoster"/>: through the chat service).
/// </summary>
public interface IRoomChatPoster
{
    Task PostFileAsync(Guid roomId, Guid userId, string login, FileChatContent content, CancellationToken cancellationToken);
}
