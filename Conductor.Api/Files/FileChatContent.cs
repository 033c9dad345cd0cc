namespace Conductor.Api.Files;

/// <summary>The content of a <c>file</c> chat message, as the chat service stores it.</summary>
public sealed record FileChatContent(Guid FileId, string Name, long Size, string ContentType);
