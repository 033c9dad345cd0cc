using System.Text;
using System.Threading.Channels;

namespace Conductor.Api.Commands;

/// <summary>
/// A run in progress on this instance: its output so far (bounded by <see cref="CommandOptions.MaxOutputBytes"/>)
/// and its watchers. A watcher that joins late gets everything so far first, then the rest live, in one order.
/// </summary>
public sealed class RunningCommand
{
    private readonly Lock _lock = new();
    private readonly List<OutputChunk> _chunks = [];
    private readonly List<Channel<CommandStreamItem>> _watchers = [];
    private readonly StringBuilder _pendingForRoom = new();
    private readonly TaskCompletionSource<CommandRun> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _seq;
    private CommandRun? _final;

    public RunningCommand(CommandRun run)
    {
        Run = run;
    }

    public CommandRun Run { get; }

    /// <summary>Cancelled by <c>POST .../cancel</c>; the runner kills the process tree.</summary>
    public CancellationTokenSource CancelSource { get; } = new();

    public Guid? CancelledBy { get; set; }

    public Task<CommandRun> Completion => _completion.Task;

    public long TextLength { get; private set; }

    public void Append(string text)
    {
        if (text.Length == 0)
        {
            return;
        }
        Channel<CommandStreamItem>[] watchers;
        OutputChunk chunk;
        lock (_lock)
        {
            chunk = new OutputChunk(++_seq, text);
            _chunks.Add(chunk);
            _pendingForRoom.Append(text);
            TextLength += text.Length;
            watchers = [.. _watchers];
        }
        foreach (var watcher in watchers)
        {
            watcher.Writer.TryWrite(new CommandOutputItem(chunk));
        }
    }

    /// <summary>Output not yet sent to the room (and forgets it).</summary>
    public string TakePendingForRoom()
    {
        lock (_lock)
        {
            var text = _pendingForRoom.ToString();
            _pendingForRoom.Clear();
            return text;
        }
    }

    /// <summary>The last <paramref name="maxChars"/> characters of the output.</summary>
    public string Tail(int maxChars)
    {
        lock (_lock)
        {
            var parts = new List<string>();
            var length = 0;
            for (var i = _chunks.Count - 1; i >= 0 && length < maxChars; i--)
            {
                parts.Add(_chunks[i].Text);
                length += _chunks[i].Text.Length;
            }
            parts.Reverse();
            var text = string.Concat(parts);
            return text.Length > maxChars ? text[^maxChars..] : text;
        }
    }

    /// <summary>Everything so far, and a reader for what follows (completed after the final record).</summary>
    public ChannelReader<CommandStreamItem> Watch()
    {
        var channel = Channel.CreateUnbounded<CommandStreamItem>(new UnboundedChannelOptions { SingleReader = true });
        lock (_lock)
        {
            foreach (var chunk in _chunks)
            {
                channel.Writer.TryWrite(new CommandOutputItem(chunk));
            }
            if (_final is not null)
            {
                channel.Writer.TryWrite(new CommandFinishedItem(_final));
                channel.Writer.TryComplete();
            }
            else
            {
                _watchers.Add(channel);
            }
        }
        return channel.Reader;
    }

    public void Unwatch(ChannelReader<CommandStreamItem> reader)
    {
        lock (_lock)
        {
            _watchers.RemoveAll(w => ReferenceEquals(w.Reader, reader));
        }
    }

    public void Complete(CommandRun final)
    {
        Channel<CommandStreamItem>[] watchers;
        lock (_lock)
        {
            _final = final;
            watchers = [.. _watchers];
            _watchers.Clear();
        }
        foreach (var watcher in watchers)
        {
            watcher.Writer.TryWrite(new CommandFinishedItem(final));
            watcher.Writer.TryComplete();
        }
        _completion.TrySetResult(final);
    }
}
