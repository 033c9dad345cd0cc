using System.IO.MemoryMappedFiles;

namespace Conductor.Workspaces.Search;

/// <summary>
/// The searchable files' contents as the index read them, one file per shard of the index (<c>content-{id}-{shard}.bin</c>
/// in the index folder, each file's bytes one after another), mapped read-only into memory. A search of a file the
/// index holds unchanged (same size and modification time) matches these bytes in place: no open, read or copy per
/// file, which is most of what a search of thousands of files costs (see docs/workspaces.md). The pages are the
/// kernel's page cache, shared with other processes and reclaimable, not the process's heap.
/// Unmapped by the finalizers of the mapping objects once no index snapshot refers to the store. A content file is
/// written once, under a new name per build, and later only deleted, never rewritten or truncated: a mapping never
/// sees its file shrink (which would fault).
/// </summary>
internal sealed unsafe class ContentStore
{
    private readonly MemoryMappedViewAccessor?[] _views;
    private readonly long[] _lengths;

    private ContentStore(MemoryMappedViewAccessor?[] views, long[] lengths)
    {
        _views = views;
        _lengths = lengths;
    }

    public static string FileName(string directory, string id, int shard) => Path.Combine(directory, $"content-{id}-{shard}.bin");

    /// <summary>Maps the shards' files; null when one is missing or shorter than <paramref name="needed"/> says.</summary>
    public static ContentStore? Open(string directory, string id, long[] needed)
    {
        var views = new MemoryMappedViewAccessor?[needed.Length];
        var lengths = new long[needed.Length];
        try
        {
            for (var s = 0; s < needed.Length; s++)
            {
                var file = new FileInfo(FileName(directory, id, s));
                if (!file.Exists || file.Length < needed[s])
                {
                    return null;
                }
                lengths[s] = file.Length;
                if (file.Length > 0)
                {
                    using var mapped = MemoryMappedFile.CreateFromFile(file.FullName, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
                    views[s] = mapped.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                }
            }
            return new ContentStore(views, lengths);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            foreach (var view in views)
            {
                view?.Dispose();
            }
            return null;
        }
    }

    /// <summary>Keeps the mappings in place while a search reads them (<see cref="Lease.Content"/>).</summary>
    public Lease Acquire() => new(this);

    /// <summary>
    /// Deletes the content files of the build <paramref name="replacedId"/> that <paramref name="keepId"/> replaced, and
    /// those of builds that never finished (older than a day; a build in progress in another process is younger). A
    /// process still mapping a deleted file keeps its pages until it unmaps them.
    /// </summary>
    public static void DeleteStale(string directory, string keepId, string? replacedId)
    {
        foreach (var file in Directory.EnumerateFiles(directory, "content-*.bin"))
        {
            var name = Path.GetFileName(file);
            if (name.StartsWith($"content-{keepId}-", StringComparison.Ordinal))
            {
                continue;
            }
            if ((replacedId is not null && name.StartsWith($"content-{replacedId}-", StringComparison.Ordinal))
                || File.GetLastWriteTimeUtc(file) < DateTime.UtcNow.AddDays(-1))
            {
                try
                {
                    File.Delete(file);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    internal sealed class Lease : IDisposable
    {
        private readonly ContentStore _store;
        private readonly byte*[] _pointers;

        public Lease(ContentStore store)
        {
            _store = store;
            _pointers = new byte*[store._views.Length];
            for (var s = 0; s < _pointers.Length; s++)
            {
                if (store._views[s] is { } view)
                {
                    byte* pointer = null;
                    view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
                    _pointers[s] = pointer + view.PointerOffset;
                }
            }
        }

        /// <summary>The stored bytes of a file (see <see cref="TrigramIndex.ContentOffsets"/>), valid until the lease is disposed.</summary>
        public ReadOnlySpan<byte> Content(int shard, long offset, int length)
        {
            if (_pointers[shard] == null || offset < 0 || offset + length > _store._lengths[shard])
            {
                throw new InvalidDataException("The search index's content store does not hold this file.");
            }
            return new ReadOnlySpan<byte>(_pointers[shard] + offset, length);
        }

        public void Dispose()
        {
            for (var s = 0; s < _pointers.Length; s++)
            {
                if (_pointers[s] != null)
                {
                    _store._views[s]!.SafeMemoryMappedViewHandle.ReleasePointer();
                    _pointers[s] = null;
                }
            }
        }
    }
}
