using StackExchange.Redis;

namespace Conductor.Api.Conversations;

/// <summary>A stream's subscription to a conversation run by another instance (<see cref="ConversationRelay"/>); disposing it unsubscribes.</summary>
public sealed class RelaySubscription(LiveSubscription subscription, ChannelMessageQueue queue, CancellationTokenSource stop, Task pump) : IAsyncDisposable
{
    public LiveSubscription Subscription { get; } = subscription;

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await queue.UnsubscribeAsync();
        await pump;
        stop.Dispose();
    }
}
