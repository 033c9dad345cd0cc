using System.Collections.Immutable;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Conductor.Workspaces.Search;

/// <summary>
/// One worktree's search index: a persisted <see cref="TrigramIndex"/> (the base, in a folder beside the worktree, see
/// <see cref="SearchIndexes.IndexDirectory"/>) plus an in-memory overlay of the files changed since it was built, kept
/// current incrementally:
/// <list type="bullet">
/// <item>writes through the Api (and so applies of change sets) append the paths they touched to the folder's journal
/// (<see cref="SearchIndexes.RecordChanges"/>, shared by every Api instance on the volume); the next query re-reads
/// those paths (asking git whether each is still a searchable file: tracked, or untracked and not ignored) first;</item>
/// <item>every git operation that changes the worktree rewrites the worktree's git index file; a query that sees its
/// size or time changed first compares every file's size and modification time with the index's and re-reads the
/// changed ones (a "sweep": one <c>git ls-files</c> and one stat per file, no content read for unchanged files);</item>
/// <item>edits that bypass both (an editor on the volume) are caught by a sweep started in the background when the
/// last one is older than <see cref="WorkspaceOptions.SearchIndexMaxStaleness"/>.</item>
/// </list>
/// A missing, damaged or other-format index file is rebuilt in the background (queries use the scan meanwhile); a saved
/// one is loaded and swept. When the overlay grows past a quarter of the files the base is rebuilt in the background.
/// Queries read an immutable snapshot; updates are serialised by one lock, so writes and queries can run at once.
/// </summary>
internal sealed partial class WorktreeIndex
{
    private const int MaxTargetedPaths = 256;
    private const long JournalCompactBytes = 4 * 1024 * 1024;

    private readonly string _root;
    private readonly string _indexFile;
    private readonly string _journalFile;
    private readonly CodeSearch _scan;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxStaleness;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _update = new(1, 1);
    private readonly Lock _tasks = new();

    private volatile State? _state;
    private Task? _building;
    private Task? _sweeping;
    private long _journalOffset;
    private (long Size, long Mtime) _gitStamp;
    private long _lastSweep;

    public WorktreeIndex(string root, CodeSearch scan, TimeProvider time, TimeSpan maxStaleness, ILogger logger)
    {
        _root = root;
        var directory = SearchIndexes.IndexDirectory(root);
        _indexFile = Path.Combine(directory, "index.bin");
        _journalFile = Path.Combine(directory, "journal");
        _scan = scan;
        _time = time;
        _maxStaleness = maxStaleness;
        _logger = logger;
    }

    /// <summary>A file changed since the base: its trigrams, or null when it is not a searchable file any more.</summary>
    internal sealed record Entry(int[]? Trigrams, long Size, long Mtime);

    internal sealed record State(TrigramIndex Base, ImmutableDictionary<string, Entry> Overlay);

    /// <summary>For tests and the benchmark: the base build or load, when one is running or about to.</summary>
    internal Task? Building => _building;

    /// <summary>
    /// The files that may contain every trigram (in no particular order), after catching up with the journal and git,
    /// with where the content store holds those of the base; null while there is no index yet (its build is started).
    /// </summary>
    public async Task<List<IndexedFile>?> CandidatesAsync(PositionedTrigram[][] groups, int[] trigrams, CancellationToken cancellationToken)
    {
        var state = await CurrentAsync(cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            return null;
        }
        var candidates = new List<IndexedFile>();
        var @base = state.Base;
        foreach (var id in @base.Candidates(groups))
        {
            var path = @base.Paths[id];
            if (!state.Overlay.ContainsKey(path))
            {
                candidates.Add(new IndexedFile(path, @base.Sizes[id], @base.Mtimes[id], @base.Content, id / TrigramIndex.ShardFiles, @base.ContentOffsets[id], @base.ContentLengths[id]));
            }
        }
        foreach (var (path, entry) in state.Overlay)
        {
            if (entry.Trigrams is { } own && trigrams.All(t => Array.BinarySearch(own, t) >= 0))
            {
                candidates.Add(new IndexedFile(path, entry.Size, entry.Mtime));
            }
        }
        return candidates;
    }

    /// <summary>Starts the load or build if there is none and waits for it (tests and the benchmark).</summary>
    public async Task<State> ReadyAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var state = await CurrentAsync(cancellationToken).ConfigureAwait(false);
            var building = _building;
            if (state is not null && building is null or { IsCompleted: true })
            {
                return state;
            }
            if (attempt > 1 || building is null)
            {
                throw new InvalidOperationException($"The search index of {_root} could not be built (see the log).");
            }
            await building.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<State?> CurrentAsync(CancellationToken cancellationToken)
    {
        var state = _state;
        if (state is null || !File.Exists(_indexFile))
        {
            StartBuild(load: state is null);
            if (state is null)
            {
                return null;
            }
        }
        if (JournalLength() != Volatile.Read(ref _journalOffset) || GitStamp() != _gitStamp)
        {
            await _update.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await CatchUpAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _update.Release();
            }
        }
        else if (_time.GetElapsedTime(Volatile.Read(ref _lastSweep)) > _maxStaleness)
        {
            StartSweep();
        }
        return _state;
    }

    private void StartBuild(bool load)
    {
        lock (_tasks)
        {
            if (_building is null or { IsCompleted: true })
            {
                _building = Task.Run(() => LoadOrBuildAsync(load));
            }
        }
    }

    private void StartSweep()
    {
        lock (_tasks)
        {
            if (_sweeping is not null and { IsCompleted: false })
            {
                return;
            }
            Volatile.Write(ref _lastSweep, _time.GetTimestamp());
            _sweeping = Task.Run(async () =>
            {
                await _update.WaitAsync().ConfigureAwait(false);
                try
                {
                    if (_state is not null)
                    {
                        await SweepAsync(JournalLength(), CancellationToken.None).ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    LogUpdateFailed(_logger, _root, ex);
                }
                finally
                {
                    _update.Release();
                }
            });
        }
    }

    private async Task LoadOrBuildAsync(bool load)
    {
        try
        {
            var start = _time.GetTimestamp();
            var loaded = load ? await Task.Run(() => TrigramIndex.Load(_indexFile, _root)).ConfigureAwait(false) : null;
            if (loaded is not null)
            {
                await _update.WaitAsync().ConfigureAwait(false);
                try
                {
                    _state = new State(loaded, ImmutableDictionary<string, Entry>.Empty.WithComparers(StringComparer.Ordinal));
                    // Whatever changed while nobody held the index (another instance, a restart) shows in the sweep.
                    await SweepAsync(JournalLength(), CancellationToken.None).ConfigureAwait(false);
                }
                finally
                {
                    _update.Release();
                }
                LogLoaded(_logger, _root, loaded.Paths.Length, _time.GetElapsedTime(start).TotalMilliseconds);
                return;
            }
            // Read before the listing: whatever is recorded or committed from here on is caught up afterwards.
            var journalAtStart = JournalLength();
            var gitAtStart = GitStamp();
            var files = await _scan.ListFilesAsync(_root, CancellationToken.None).ConfigureAwait(false);
            var directory = Path.GetDirectoryName(_indexFile)!;
            var built = await Task.Run(() => TrigramIndex.Build(_root, files, directory, CancellationToken.None)).ConfigureAwait(false);
            await _update.WaitAsync().ConfigureAwait(false);
            try
            {
                _state = new State(built, ImmutableDictionary<string, Entry>.Empty.WithComparers(StringComparer.Ordinal));
                Volatile.Write(ref _journalOffset, journalAtStart);
                _gitStamp = gitAtStart;
                Volatile.Write(ref _lastSweep, _time.GetTimestamp());
                await CatchUpAsync(CancellationToken.None).ConfigureAwait(false);
                // Saved once it answers: an index file on disk means this process's index is in use.
                Directory.CreateDirectory(directory);
                var replaced = TrigramIndex.SavedContentId(_indexFile);
                built.Save(_indexFile, _root);
                ContentStore.DeleteStale(directory, built.ContentId, replaced);
                CompactJournal();
            }
            finally
            {
                _update.Release();
            }
            LogBuilt(_logger, _root, built.Paths.Length, built.PostingBytes, _time.GetElapsedTime(start).TotalMilliseconds);
        }
        catch (Exception ex)
        {
            LogBuildFailed(_logger, _root, ex);
        }
    }

    /// <summary>Under the lock: applies the journal's new records and, when git touched the worktree, sweeps.</summary>
    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        var length = JournalLength();
        var offset = Volatile.Read(ref _journalOffset);
        var git = GitStamp();
        if (length == offset && git == _gitStamp)
        {
            return;
        }
        if (git != _gitStamp || length < offset)
        {
            await SweepAsync(length, cancellationToken).ConfigureAwait(false);
            return;
        }
        var (paths, consumed, everything) = ReadJournal(offset, length);
        if (everything || paths.Count > MaxTargetedPaths)
        {
            await SweepAsync(length, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (paths.Count > 0)
        {
            await UpdatePathsAsync(paths, cancellationToken).ConfigureAwait(false);
        }
        Volatile.Write(ref _journalOffset, offset + consumed);
    }

    /// <summary>Re-reads the given paths (files or folders) and whatever the index knows at or below them.</summary>
    private async Task UpdatePathsAsync(IReadOnlyCollection<string> paths, CancellationToken cancellationToken)
    {
        var state = _state!;
        if (paths.All(p => IsKnownFile(state, p)))
        {
            // Edits of files the index already holds as searchable: they stay so (tracked stays tracked, an untracked
            // file stays unignored unless a .gitignore changes, which asks git below), so no listing is needed; a
            // file deleted since reads as empty, as the scan reads a tracked file missing from the disk.
            var edited = state.Overlay.ToBuilder();
            using var fileReader = new WorktreeReader(_root);
            var pathBytes = new byte[512];
            var content = new byte[64 * 1024];
            foreach (var path in paths)
            {
                edited[path] = Reindex(fileReader, path, ref pathBytes, ref content);
            }
            Publish(state.Base, edited.ToImmutable());
            return;
        }
        var listed = await _scan.ListFilesAsync(_root, paths, cancellationToken).ConfigureAwait(false);
        var affected = new HashSet<string>(listed, StringComparer.Ordinal);
        foreach (var path in paths)
        {
            foreach (var id in state.Base.IdsAtOrUnder(path))
            {
                affected.Add(state.Base.Paths[id]);
            }
            foreach (var known in state.Overlay.Keys)
            {
                if (known == path || known.StartsWith(path + "/", StringComparison.Ordinal))
                {
                    affected.Add(known);
                }
            }
        }
        var searchable = new HashSet<string>(listed, StringComparer.Ordinal);
        var overlay = state.Overlay.ToBuilder();
        using var reader = new WorktreeReader(_root);
        var pathBuffer = new byte[512];
        var buffer = new byte[64 * 1024];
        foreach (var path in affected)
        {
            overlay[path] = searchable.Contains(path) ? Reindex(reader, path, ref pathBuffer, ref buffer) : new Entry(null, -1, -1);
        }
        Publish(state.Base, overlay.ToImmutable());
    }

    /// <summary>Under the lock: compares every file's size and time with the index's and re-reads the changed ones.</summary>
    private async Task SweepAsync(long journalLength, CancellationToken cancellationToken)
    {
        var git = GitStamp();
        Volatile.Write(ref _lastSweep, _time.GetTimestamp());
        var state = _state!;
        var files = await _scan.ListFilesAsync(_root, cancellationToken).ConfigureAwait(false);
        var listed = new HashSet<string>(files, StringComparer.Ordinal);
        var overlay = state.Overlay.ToBuilder();
        var pathBuffer = new byte[512];
        var buffer = new byte[64 * 1024];
        using (var reader = new WorktreeReader(_root))
        {
            foreach (var path in files)
            {
                (long Size, long Mtime)? known = null;
                if (overlay.TryGetValue(path, out var entry))
                {
                    known = entry.Trigrams is null ? null : (entry.Size, entry.Mtime);
                }
                else if (state.Base.IdOf(path) is var id and >= 0)
                {
                    known = (state.Base.Sizes[id], state.Base.Mtimes[id]);
                }
                if (known is null || known.Value != TrigramIndex.Stamp(_root, path))
                {
                    overlay[path] = Reindex(reader, path, ref pathBuffer, ref buffer);
                }
            }
        }
        foreach (var path in state.Base.Paths)
        {
            if (!listed.Contains(path) && !(overlay.TryGetValue(path, out var entry) && entry.Trigrams is null))
            {
                overlay[path] = new Entry(null, -1, -1);
            }
        }
        foreach (var (path, entry) in state.Overlay)
        {
            if (entry.Trigrams is not null && !listed.Contains(path))
            {
                overlay[path] = new Entry(null, -1, -1);
            }
        }
        _gitStamp = git;
        Volatile.Write(ref _journalOffset, journalLength);
        Publish(state.Base, overlay.ToImmutable());
    }

    private static bool IsKnownFile(State state, string path) =>
        Path.GetFileName(path) != ".gitignore"
        && (state.Overlay.TryGetValue(path, out var entry) ? entry.Trigrams is not null : state.Base.IdOf(path) >= 0);

    private Entry Reindex(WorktreeReader reader, string path, ref byte[] pathBuffer, ref byte[] buffer)
    {
        var (size, mtime) = TrigramIndex.Stamp(_root, path); // before the content: a racing write shows as a change
        var length = TrigramIndex.Read(reader, path, ref pathBuffer, ref buffer);
        return new Entry(length > 0 ? Trigrams.DistinctSorted(buffer.AsSpan(0, length)) : [], size, mtime);
    }

    private void Publish(TrigramIndex @base, ImmutableDictionary<string, Entry> overlay)
    {
        _state = new State(@base, overlay);
        if (overlay.Count > Math.Max(1000, @base.Paths.Length / 4))
        {
            StartBuild(load: false);
        }
    }

    private long JournalLength()
    {
        try
        {
            var info = new FileInfo(_journalFile);
            return info.Exists ? info.Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Complete records (NUL-terminated UTF-8 paths; an empty one asks for a sweep) in [offset, length).</summary>
    private (List<string> Paths, long Consumed, bool Everything) ReadJournal(long offset, long length)
    {
        var paths = new List<string>();
        var everything = false;
        byte[] bytes;
        try
        {
            using var stream = new FileStream(_journalFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Position = offset;
            bytes = new byte[(int)Math.Min(length - offset, 16 * 1024 * 1024)];
            stream.ReadExactly(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ([], 0, true);
        }
        var consumed = 0;
        while (consumed < bytes.Length)
        {
            var end = Array.IndexOf(bytes, (byte)0, consumed);
            if (end < 0)
            {
                break; // a record still being written: next time
            }
            if (end == consumed)
            {
                everything = true;
            }
            else
            {
                paths.Add(Encoding.UTF8.GetString(bytes, consumed, end - consumed));
            }
            consumed = end + 1;
        }
        return (paths.Distinct(StringComparer.Ordinal).ToList(), consumed, everything);
    }

    /// <summary>Under the lock, right after a build's catch-up: a long journal starts again (other readers see it shrink and sweep).</summary>
    private void CompactJournal()
    {
        if (JournalLength() > JournalCompactBytes)
        {
            using (new FileStream(_journalFile, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
            {
            }
            Volatile.Write(ref _journalOffset, 0);
            _gitStamp = (-2, -2); // so the next query sweeps, catching a record appended just before the truncation
        }
    }

    /// <summary>Size and time of the worktree's git index file, which every git operation that changes the worktree rewrites.</summary>
    private (long Size, long Mtime) GitStamp()
    {
        var dotGit = Path.Combine(_root, ".git");
        string? indexFile = null;
        try
        {
            if (Directory.Exists(dotGit))
            {
                indexFile = Path.Combine(dotGit, "index");
            }
            else if (File.Exists(dotGit))
            {
                var line = File.ReadAllText(dotGit).Trim();
                if (line.StartsWith("gitdir:", StringComparison.Ordinal))
                {
                    var gitDir = line["gitdir:".Length..].Trim();
                    indexFile = Path.Combine(Path.IsPathRooted(gitDir) ? gitDir : Path.Combine(_root, gitDir), "index");
                }
            }
        }
        catch (IOException)
        {
        }
        if (indexFile is null)
        {
            return (-1, -1);
        }
        var info = new FileInfo(indexFile);
        return info.Exists ? (info.Length, info.LastWriteTimeUtc.Ticks) : (-1, -1);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Search index of {Worktree} built: {Files} files, {Bytes} bytes of postings, {Milliseconds:F0} ms.")]
    private static partial void LogBuilt(ILogger logger, string worktree, int files, long bytes, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Search index of {Worktree} loaded and swept: {Files} files, {Milliseconds:F0} ms.")]
    private static partial void LogLoaded(ILogger logger, string worktree, int files, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Building the search index of {Worktree} failed; searches scan the worktree.")]
    private static partial void LogBuildFailed(ILogger logger, string worktree, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Updating the search index of {Worktree} failed.")]
    private static partial void LogUpdateFailed(ILogger logger, string worktree, Exception exception);
}
