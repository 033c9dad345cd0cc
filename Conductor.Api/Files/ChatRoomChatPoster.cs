using System.Text.Json;
using Conductor.Api.Chat;

namespace Conductor.Api.Files;

/// <summary>
/// Announces uploads through the chat service as the uploader's own <c>file</c> message, so it is stored, ordered and
/// fanned out like any message (and subject to the same membership and rate checks).
/// </summary>
internal sealed class ChatRoomChatPoster(ChatService chat) : IRoomChatPoster
{
    public async Task PostFileAsync(Guid roomId, Guid userId, string login, FileChatContent content, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToElement(new { file_id = content.FileId, name = content.Name, size = content.Size, content_type = content.ContentType });
        await chat.SendAsync(new ChatCaller(userId, login), roomId, new SendMessageRequest(null, body, ChatKinds.File, null), cancellationToken);
    }
}
