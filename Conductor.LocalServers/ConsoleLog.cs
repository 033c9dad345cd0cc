using System.Threading.Channels;

namespace Conductor.LocalServers;

/// <summary>
/// A bounded ring of a resource's console lines that the dashboard can read from any point and follow live.
/// It survives restarts of the resource, so the output of a crashed run stays readable.
/// </summary>
public sealed class ConsoleLog(int capacity = 5000)
{
    private readonly Lock _gate = new();
    private readonly Queue<ConsoleLine> _lines = new();
    private readonly List<Channel<ConsoleLine>> _followers = [];
    private long _sequence;

    /// <summary>Raised for every line, after it is stored; the AppHost mirrors lines to its own console with it.</summary>
    public event Action<ConsoleLine>? LineAppended;

    public void Append(bool isError, string text)
    {
        ConsoleLine line;
        Channel<ConsoleLine>[] followers;
        lock (_gate)
        {
            line = new ConsoleLine(++_sequence, DateTimeOffset.UtcNow, isError, text);
            _lines.Enqueue(line);
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }
            followers = [.. _followers];
        }
        foreach (var follower in followers)
        {
            follower.Writer.TryWrite(line);
        }
        LineAppended?.Invoke(line);
    }

    public IReadOnlyList<ConsoleLine> Snapshot()
    {
        lock (_gate)
        {
            return [.. _lines];
        }
    }

    /// <summary>Every stored line after <paramref name="afterSequence"/>, then new lines as they arrive.</summary>
    public async IAsyncEnumerable<ConsoleLine> FollowAsync(long afterSequence,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Slow readers lose old lines rather than holding memory without bound.
        var channel = Channel.CreateBounded<ConsoleLine>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest });
        ConsoleLine[] backlog;
        lock (_gate)
        {
            backlog = [.. _lines.Where(l => l.Sequence > afterSequence)];
            _followers.Add(channel);
        }
        try
        {
            var last = afterSequence;
            foreach (var line in backlog)
            {
                last = line.Sequence;
                yield return line;
            }
            await foreach (var line in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (line.Sequence > last)
                {
                    last = line.Sequence;
                    yield return line;
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _followers.Remove(channel);
            }
        }
    }
}
