using System.Threading.Channels;

namespace Conductor.Api.Conversations;

/// <summary>What a stream sees when it subscribes: the turn in progress (if any), its text so far, and what follows.</summary>
public sealed record LiveSubscription(ChannelReader<ConversationEvent> Events, ConversationEvent? CurrentTurn, string CurrentText);
