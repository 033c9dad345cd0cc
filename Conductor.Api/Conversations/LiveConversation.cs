using System.Text;
using System.Threading.Channels;

namespace Conductor.Api.Conversations;

/// <summary>
/// A conversation this instance is running: the turn in progress and the streams watching it. Tokens are published
/// here as they arrive; a turn reaches Postgres only once it is complete.
/// </summary>
public sealed class LiveConversation(Guid id, CancellationToken stopping) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<Channel<ConversationEvent>> _subscribers = [];
    private readonly StringBuilder _text = new();
    private ConversationEvent? _current;
    private bool _closed;

    public Guid Id { get; } = id;
    public CancellationTokenSource Cancellation { get; } = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    /// <summary>Set when the conversation ended elsewhere (stopped): the run ends without giving up a claim it no longer has.</summary>
    public bool Ended { get; private set; }

    public void End()
    {
        Ended = true;
        Cancellation.Cancel();
    }

    public LiveSubscription Subscribe()
    {
        var channel = Channel.CreateUnbounded<ConversationEvent>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            if (_closed)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _subscribers.Add(channel);
            }
            return new LiveSubscription(channel.Reader, _current, _text.ToString());
        }
    }

    public void Unsubscribe(LiveSubscription subscription)
    {
        lock (_gate)
        {
            _subscribers.RemoveAll(c => c.Reader == subscription.Events);
        }
    }

    public void Publish(ConversationEvent e)
    {
        lock (_gate)
        {
            switch (e.Type)
            {
                case ConversationEventTypes.TurnStart:
                    _current = e;
                    _text.Clear();
                    break;
                case ConversationEventTypes.Token:
                    _text.Append(e.Text);
                    break;
                case ConversationEventTypes.TurnEnd:
                    _current = null;
                    _text.Clear();
                    break;
            }
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(e);
            }
        }
    }

    /// <summary>No more events: streams go back to Postgres for the outcome.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }
            _subscribers.Clear();
        }
    }

    public void Dispose() => Cancellation.Dispose();
}
