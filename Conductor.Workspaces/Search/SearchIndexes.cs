using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces.Search;

/// <summary>
/// Code search through each worktree's trigram index (<see cref="WorktreeIndex"/>): the index narrows the files to
/// those that contain every trigram of the query's required literals, and exactly the scan's matcher, limits and
/// include/exclude globs run on them in path order, so the results are the scan's. Queries without a literal of at
/// least three bytes (a short literal, a regex without a usable literal), and any query while a worktree's index is
/// being built, use the scan (<see cref="CodeSearch"/>).
/// </summary>
public sealed partial class SearchIndexes(CodeSearch scan, IOptions<WorkspaceOptions> options, TimeProvider time, ILogger<SearchIndexes> logger)
{
    private const string JournalName = "journal";
    private readonly ConcurrentDictionary<string, WorktreeIndex> _indexes = new(StringComparer.Ordinal);
    private readonly WorkspaceOptions _options = options.Value;

    /// <summary>
    /// The index folder of a worktree: beside it (<c>.{name}.search-index</c> in the same parent), never inside, so
    /// nothing of it can be listed, searched or committed.
    /// </summary>
    public static string IndexDirectory(string worktree)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(worktree));
        return Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".search-index");
    }

    /// <summary>
    /// Records that files (or folders) of a worktree changed, for every process that holds its index: appended to the
    /// index folder's journal (a few bytes, atomic for such a small append), read by the next query. No path: everything
    /// may have changed (the next query compares every file's size and time).
    /// </summary>
    public static void RecordChanges(string worktree, params ReadOnlySpan<string> relativePaths)
    {
        var directory = IndexDirectory(worktree);
        Directory.CreateDirectory(directory);
        var record = new List<byte>();
        if (relativePaths.IsEmpty)
        {
            record.Add(0);
        }
        foreach (var path in relativePaths)
        {
            record.AddRange(Encoding.UTF8.GetBytes(path));
            record.Add(0);
        }
        using var stream = new FileStream(Path.Combine(directory, JournalName), FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        stream.Write(record.ToArray());
    }

    /// <summary>Removes a worktree's index folder (the workspace is deleted).</summary>
    public static void DeleteIndex(string worktree)
    {
        var directory = IndexDirectory(worktree);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    public async Task<IReadOnlyList<SearchMatch>> SearchAsync(string worktree, PreparedSearch search, CancellationToken cancellationToken)
    {
        if (!_options.SearchIndex || search.IndexTrigrams.Length == 0)
        {
            return await scan.SearchAsync(worktree, search, cancellationToken).ConfigureAwait(false);
        }
        List<IndexedFile>? candidates;
        try
        {
            candidates = await For(worktree).CandidatesAsync(search.IndexTrigramGroups, search.IndexTrigrams, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogIndexUnavailable(logger, worktree, ex);
            candidates = null;
        }
        if (candidates is null)
        {
            return await scan.SearchAsync(worktree, search, cancellationToken).ConfigureAwait(false);
        }
        return await Task.Run(() => CodeSearch.Search(worktree, candidates, search, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Builds (or loads and catches up) the worktree's index and waits for it: tests, the benchmark, warm-up.</summary>
    public async Task<SearchIndexStatistics> EnsureReadyAsync(string worktree, CancellationToken cancellationToken)
    {
        var state = await For(worktree).ReadyAsync(cancellationToken).ConfigureAwait(false);
        var file = new FileInfo(Path.Combine(IndexDirectory(worktree), "index.bin"));
        return new SearchIndexStatistics(state.Base.Paths.Length, state.Overlay.Count, file.Exists ? file.Length : 0, state.Base.ContentBytes);
    }

    /// <summary>The files the index would have searched (null: no index yet, or the query cannot use it): tests and the benchmark.</summary>
    internal async Task<List<IndexedFile>?> CandidatesAsync(string worktree, PreparedSearch search, CancellationToken cancellationToken) =>
        search.IndexTrigrams.Length == 0 ? null : await For(worktree).CandidatesAsync(search.IndexTrigramGroups, search.IndexTrigrams, cancellationToken).ConfigureAwait(false);

    private WorktreeIndex For(string worktree) =>
        _indexes.GetOrAdd(Path.TrimEndingDirectorySeparator(Path.GetFullPath(worktree)),
            root => new WorktreeIndex(root, scan, time, _options.SearchIndexMaxStaleness, logger));

    [LoggerMessage(Level = LogLevel.Warning, Message = "The search index of {Worktree} could not answer; scanning instead.")]
    private static partial void LogIndexUnavailable(ILogger logger, string worktree, Exception exception);
}

/// <param name="Files">Files in the persisted base.</param>
/// <param name="ChangedFiles">Files changed since the base was built (held in memory).</param>
/// <param name="IndexBytes">Size of the persisted index file (trigrams, paths, stamps), held in memory.</param>
/// <param name="ContentBytes">Size of the content store beside it (the indexed files' bytes), mapped from disk.</param>
public sealed record SearchIndexStatistics(int Files, int ChangedFiles, long IndexBytes, long ContentBytes);
