using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;

namespace Conductor.Workspaces.Search;

/// <summary>
/// The persisted part of a worktree's search index (see <see cref="WorktreeIndex"/>): the searchable files as they were
/// when it was built (path, size, modification time) and, for each byte trigram (<see cref="Trigrams"/>), the files that
/// contain it. Files are cut into shards of <see cref="ShardFiles"/> consecutive files, built in parallel; a shard maps
/// each trigram (sorted keys, binary search) to a list of its files as delta-encoded varints. Immutable: changed files
/// live in <see cref="WorktreeIndex"/>'s overlay until the next rebuild.
/// <para>
/// Hand-written: NuGet (as served here) has no trigram, Zoekt-style or code-search index library; the closest is
/// Lucene.Net (4.8.0-beta only), a general full-text engine that indexes UTF-16 text through an analysis chain, whereas
/// this index must answer for the raw bytes the scan matches (invalid UTF-8, byte-exact literals) with positionless
/// postings. See docs/workspaces.md.
/// </para>
/// </summary>
internal sealed class TrigramIndex
{
    public const int ShardFiles = 4096;

    /// <summary>
    /// Files longer than this are indexed as overlapping chunks, each its own set of trigrams, so that a huge generated
    /// file that holds nearly every trigram somewhere (register headers, firmware tables) is a candidate only when one
    /// chunk holds all of a literal's trigrams. Chunks overlap by <see cref="ChunkOverlap"/> bytes, more than the
    /// longest literal a query can have (<see cref="CodeSearch.MaxQueryLength"/> UTF-16 characters, at most 3 bytes
    /// each), so a literal is always whole in some chunk.
    /// </summary>
    public const int ChunkBytes = 16 * 1024;
    public const int ChunkOverlap = (3 * CodeSearch.MaxQueryLength) + 8;
    private const ulong Magic = 0x3149_5254_4843_5343; // "CSCHTRI1"
    private const int FormatVersion = 5;
    private const long RacyTicks = 2 * TimeSpan.TicksPerSecond;

    private readonly Dictionary<string, int> _ids;

    private TrigramIndex(string[] paths, long[] sizes, long[] mtimes, Shard[] shards, string contentId, long[] contentOffsets, int[] contentLengths, ContentStore content)
    {
        Paths = paths;
        Sizes = sizes;
        Mtimes = mtimes;
        Shards = shards;
        ContentId = contentId;
        ContentOffsets = contentOffsets;
        ContentLengths = contentLengths;
        Content = content;
        _ids = new Dictionary<string, int>(paths.Length, StringComparer.Ordinal);
        for (var i = 0; i < paths.Length; i++)
        {
            _ids[paths[i]] = i;
        }
    }

    /// <summary>Searchable files when built, in UTF-8 byte order.</summary>
    public string[] Paths { get; }
    public long[] Sizes { get; }
    public long[] Mtimes { get; }
    internal Shard[] Shards { get; }

    /// <summary>Names this build's content files (see <see cref="ContentStore"/>).</summary>
    public string ContentId { get; }

    /// <summary>Where each file's bytes start in its shard's content file (-1: none, the file is skipped as binary, too large or unreadable).</summary>
    public long[] ContentOffsets { get; }

    public int[] ContentLengths { get; }

    public ContentStore Content { get; }

    /// <summary>Bytes of the content files.</summary>
    public long ContentBytes => ContentLengths.Sum(l => (long)Math.Max(l, 0));

    public long PostingBytes => Shards.Sum(s => (long)s.Postings.Length + (s.Keys.Length * 8L) + (s.DocumentFiles.Length * 4L));

    public int IdOf(string path) => _ids.TryGetValue(path, out var id) ? id : -1;

    /// <summary>Ids of the file <paramref name="path"/> and of every file below <c>path/</c> (a contiguous range in byte order).</summary>
    public IEnumerable<int> IdsAtOrUnder(string path)
    {
        if (IdOf(path) is var id and >= 0)
        {
            yield return id;
        }
        var folder = path + "/";
        for (var i = LowerBound(folder); i < Paths.Length && Paths[i].StartsWith(folder, StringComparison.Ordinal); i++)
        {
            yield return i;
        }
    }

    private int LowerBound(string path)
    {
        int low = 0, high = Paths.Length;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (Utf8Order.Instance.Compare(Paths[mid], path) < 0)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }

    /// <summary>
    /// Ids of the files (ascending) where, for each group (the trigrams of one required literal, not empty), one
    /// document (the file, or one chunk of a long file) contains every trigram of the group.
    /// </summary>
    public List<int> Candidates(PositionedTrigram[][] groups)
    {
        var result = new List<int>();
        var current = new List<int>();
        var next = new List<int>();
        foreach (var shard in Shards)
        {
            List<int>? files = null;
            foreach (var group in groups)
            {
                if (!shard.Documents(group, current, next))
                {
                    files = [];
                    break;
                }
                var groupFiles = new List<int>(current.Count);
                foreach (var document in current)
                {
                    var file = shard.DocumentFiles[document];
                    if (groupFiles.Count == 0 || groupFiles[^1] != file)
                    {
                        groupFiles.Add(file);
                    }
                }
                files = files is null ? groupFiles : [.. files.Intersect(groupFiles)];
                if (files.Count == 0)
                {
                    break;
                }
            }
            if (files is not null)
            {
                result.AddRange(files);
            }
        }
        return result;
    }

    /// <summary>Rotates a position mask so that bit k means "the literal starts at an offset ≡ k (mod 8)".</summary>
    private static int Align(int mask, int offset)
    {
        var r = offset & 7;
        return ((mask >> r) | (mask << (8 - r))) & 0xFF;
    }

    private static void Decode(byte[] postings, (int Start, int End, int Offset) range, List<int> into, List<int> masks)
    {
        var position = range.Start;
        var value = -1;
        while (position < range.End)
        {
            value += ReadVarint(postings, ref position) + 1;
            into.Add(value);
            masks.Add(Align(postings[position++], range.Offset));
        }
    }

    /// <summary>Keeps the documents of <paramref name="sorted"/> that are in the list and still have a common start (mod 8).</summary>
    private static void Intersect(byte[] postings, (int Start, int End, int Offset) range, List<int> sorted, List<int> masks, List<int> into, List<int> intoMasks)
    {
        var position = range.Start;
        var value = -1;
        var i = 0;
        while (position < range.End && i < sorted.Count)
        {
            value += ReadVarint(postings, ref position) + 1;
            var mask = postings[position++];
            while (i < sorted.Count && sorted[i] < value)
            {
                i++;
            }
            if (i < sorted.Count && sorted[i] == value)
            {
                var common = masks[i] & Align(mask, range.Offset);
                if (common != 0)
                {
                    into.Add(value);
                    intoMasks.Add(common);
                }
                i++;
            }
        }
    }

    private static int ReadVarint(byte[] data, ref int position)
    {
        var value = 0;
        var shift = 0;
        while (true)
        {
            var b = data[position++];
            value |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
            shift += 7;
        }
    }

    /// <summary>
    /// Reads every file (as the scan does: <see cref="WorktreeReader"/>, binary and oversized files skipped, which then
    /// have no trigrams) and indexes it. A file's size and time are taken before its content, so a write racing the
    /// build shows as a change at the next check.
    /// </summary>
    public static TrigramIndex Build(string root, IReadOnlyList<string> sortedPaths, string directory, CancellationToken cancellationToken)
    {
        var count = sortedPaths.Count;
        var sizes = new long[count];
        var mtimes = new long[count];
        var contentOffsets = new long[count];
        var contentLengths = new int[count];
        var shards = new Shard[(count + ShardFiles - 1) / ShardFiles];
        var shardBytes = new long[shards.Length];
        var contentId = Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(directory);
        var nextShard = -1;
        using var reader = new WorktreeReader(root);

        void Work()
        {
            var seen = new int[1 << 24];
            var slot = new int[1 << 24];
            var stamp = 0; // one per document: seen[] needs no clearing
            var keys = new long[1 << 20];
            var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
            var path = new byte[1024];
            try
            {
                int s;
                while ((s = Interlocked.Increment(ref nextShard)) < shards.Length)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var first = s * ShardFiles;
                    var end = Math.Min(first + ShardFiles, count);
                    var keyCount = 0;
                    var documentFiles = new List<int>(end - first);
                    using var content = new FileStream(ContentStore.FileName(directory, contentId, s), FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 20);
                    for (var i = first; i < end; i++)
                    {
                        (sizes[i], mtimes[i]) = Stamp(root, sortedPaths[i]);
                        var length = Read(reader, sortedPaths[i], ref path, ref buffer);
                        // A file written in the last seconds may be written again within the file system's timestamp
                        // granularity, keeping size and time ("racily clean", as git calls it): not stored, so searches
                        // read it from disk.
                        var store = length > 0 && mtimes[i] < DateTime.UtcNow.Ticks - RacyTicks;
                        contentOffsets[i] = store ? content.Position : -1;
                        contentLengths[i] = length;
                        if (store)
                        {
                            content.Write(buffer, 0, length);
                        }
                        // Every file is at least one document, so that document ids stay in file order.
                        for (var start = 0; ; start += ChunkBytes)
                        {
                            var stop = Math.Min(Math.Max(length, 0), start + ChunkBytes + ChunkOverlap);
                            if (length > 0)
                            {
                                Trigrams.AddDistinct(buffer.AsSpan(start, stop - start), start, seen, slot, ++stamp, ref keys, ref keyCount, documentFiles.Count);
                            }
                            documentFiles.Add(i);
                            if (documentFiles.Count >= 1 << 24)
                            {
                                throw new InvalidOperationException("Too many chunks in one shard for the index's 24-bit document numbers.");
                            }
                            if (stop >= length)
                            {
                                break;
                            }
                        }
                    }
                    shards[s] = Shard.Encode(first, end - first, [.. documentFiles], keys.AsSpan(0, keyCount));
                    shardBytes[s] = content.Position;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        var workers = Math.Clamp(shards.Length, 1, Math.Min(Environment.ProcessorCount, 4));
        var tasks = Enumerable.Range(0, workers - 1).Select(_ => Task.Factory.StartNew(Work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        Work();
        Task.WaitAll(tasks, CancellationToken.None);
        var store = ContentStore.Open(directory, contentId, shardBytes) ?? throw new IOException($"The search index's content files in {directory} could not be mapped.");
        return new TrigramIndex([.. sortedPaths], sizes, mtimes, shards, contentId, contentOffsets, contentLengths, store);
    }

    /// <summary>A file's content as the scan reads it (length ≤ 0: skipped: missing, a symlink, binary or too large).</summary>
    internal static int Read(WorktreeReader reader, string relativePath, ref byte[] pathBuffer, ref byte[] buffer)
    {
        var needed = Encoding.UTF8.GetByteCount(relativePath) + 1;
        if (pathBuffer.Length < needed)
        {
            pathBuffer = new byte[needed * 2];
        }
        var written = Encoding.UTF8.GetBytes(relativePath, pathBuffer);
        pathBuffer[written] = 0;
        return reader.ReadFile(pathBuffer.AsSpan(0, written + 1), ref buffer, CodeSearch.MaxSearchedFileBytes, CodeSearch.BinaryProbeBytes);
    }

    /// <summary>Size and modification time (100 ns ticks) of a file, (-1, -1) when there is none.</summary>
    internal static (long Size, long Mtime) Stamp(string root, string relativePath)
    {
        try
        {
            var info = new FileInfo(Path.Combine(root, relativePath));
            return info.Exists ? (info.Length, info.LastWriteTimeUtc.Ticks) : (-1, -1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (-1, -1);
        }
    }

    /// <summary>The content id a saved index refers to (null: none readable), so a rebuild can delete the files it replaces.</summary>
    public static string? SavedContentId(string file)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            if (reader.ReadUInt64() != Magic || reader.ReadInt32() != FormatVersion)
            {
                return null;
            }
            reader.ReadString();
            return reader.ReadString();
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Save(string file, string worktree)
    {
        var temporary = file + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            using (var writer = new BinaryWriter(stream, Encoding.UTF8))
            {
                writer.Write(Magic);
                writer.Write(FormatVersion);
                writer.Write(worktree);
                writer.Write(ContentId);
                writer.Write(Paths.Length);
                foreach (var path in Paths)
                {
                    writer.Write(path);
                }
                writer.Write(MemoryMarshal.AsBytes(Sizes.AsSpan()));
                writer.Write(MemoryMarshal.AsBytes(Mtimes.AsSpan()));
                writer.Write(MemoryMarshal.AsBytes(ContentOffsets.AsSpan()));
                writer.Write(MemoryMarshal.AsBytes(ContentLengths.AsSpan()));
                writer.Write(Shards.Length);
                foreach (var shard in Shards)
                {
                    writer.Write(shard.FirstFile);
                    writer.Write(shard.FileCount);
                    writer.Write(shard.DocumentFiles.Length);
                    writer.Write(MemoryMarshal.AsBytes(shard.DocumentFiles.AsSpan()));
                    writer.Write(shard.Keys.Length);
                    writer.Write(MemoryMarshal.AsBytes(shard.Keys.AsSpan()));
                    writer.Write(MemoryMarshal.AsBytes(shard.Offsets.AsSpan()));
                    writer.Write(shard.Postings.Length);
                    writer.Write(shard.Postings);
                }
                writer.Write(Magic);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, file, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The saved index, or null when it is missing, of another format or worktree, or damaged.</summary>
    public static TrigramIndex? Load(string file, string worktree)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            if (reader.ReadUInt64() != Magic || reader.ReadInt32() != FormatVersion || reader.ReadString() != worktree)
            {
                return null;
            }
            var contentId = reader.ReadString();
            var count = reader.ReadInt32();
            var paths = new string[count];
            for (var i = 0; i < count; i++)
            {
                paths[i] = reader.ReadString();
            }
            var sizes = new long[count];
            var mtimes = new long[count];
            ReadExactly(reader, MemoryMarshal.AsBytes(sizes.AsSpan()));
            ReadExactly(reader, MemoryMarshal.AsBytes(mtimes.AsSpan()));
            var contentOffsets = new long[count];
            var contentLengths = new int[count];
            ReadExactly(reader, MemoryMarshal.AsBytes(contentOffsets.AsSpan()));
            ReadExactly(reader, MemoryMarshal.AsBytes(contentLengths.AsSpan()));
            var shards = new Shard[reader.ReadInt32()];
            for (var s = 0; s < shards.Length; s++)
            {
                var first = reader.ReadInt32();
                var files = reader.ReadInt32();
                var documentFiles = new int[reader.ReadInt32()];
                ReadExactly(reader, MemoryMarshal.AsBytes(documentFiles.AsSpan()));
                var keys = new int[reader.ReadInt32()];
                var offsets = new int[keys.Length + 1];
                ReadExactly(reader, MemoryMarshal.AsBytes(keys.AsSpan()));
                ReadExactly(reader, MemoryMarshal.AsBytes(offsets.AsSpan()));
                var postings = new byte[reader.ReadInt32()];
                ReadExactly(reader, postings);
                if (first != s * ShardFiles || offsets[^1] != postings.Length || documentFiles.Any(f => f < first || f >= first + files || f >= count))
                {
                    return null;
                }
                shards[s] = new Shard(first, files, documentFiles, keys, offsets, postings);
            }
            if (reader.ReadUInt64() != Magic || shards.Length != (count + ShardFiles - 1) / ShardFiles)
            {
                return null;
            }
            // Each shard's content file must hold its files' bytes: the end of the last of them.
            var needed = new long[shards.Length];
            for (var i = 0; i < count; i++)
            {
                if (contentOffsets[i] >= 0)
                {
                    needed[i / ShardFiles] = Math.Max(needed[i / ShardFiles], contentOffsets[i] + contentLengths[i]);
                }
            }
            var store = ContentStore.Open(Path.GetDirectoryName(file)!, contentId, needed);
            return store is null ? null : new TrigramIndex(paths, sizes, mtimes, shards, contentId, contentOffsets, contentLengths, store);
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException or UnauthorizedAccessException or OverflowException or OutOfMemoryException or ArgumentException)
        {
            return null;
        }
    }

    private static void ReadExactly(BinaryReader reader, Span<byte> into) => reader.BaseStream.ReadExactly(into);

    /// <param name="DocumentFiles">The file (global id) of each of the shard's documents (a file, or a chunk of one), in order.</param>
    internal sealed record Shard(int FirstFile, int FileCount, int[] DocumentFiles, int[] Keys, int[] Offsets, byte[] Postings)
    {
        /// <summary>The documents (ascending) that contain every trigram, into <paramref name="into"/>; false when some trigram is in none.</summary>
        public bool Documents(PositionedTrigram[] trigrams, List<int> into, List<int> scratch)
        {
            var lists = new (int Start, int End, int Offset)[trigrams.Length];
            for (var t = 0; t < trigrams.Length; t++)
            {
                var k = Array.BinarySearch(Keys, trigrams[t].Key);
                if (k < 0)
                {
                    return false;
                }
                lists[t] = (Offsets[k], Offsets[k + 1], trigrams[t].Offset);
            }
            Array.Sort(lists, (a, b) => (a.End - a.Start).CompareTo(b.End - b.Start));
            into.Clear();
            var masks = new List<int>();
            Decode(Postings, lists[0], into, masks);
            var nextMasks = new List<int>();
            for (var t = 1; t < lists.Length && into.Count > 0; t++)
            {
                scratch.Clear();
                nextMasks.Clear();
                Intersect(Postings, lists[t], into, masks, scratch, nextMasks);
                into.Clear();
                into.AddRange(scratch);
                (masks, nextMasks) = (nextMasks, masks);
            }
            return into.Count > 0;
        }

        /// <summary>From (trigram &lt;&lt; 40 | local document &lt;&lt; 8 | position mask) entries, one per trigram and document.</summary>
        public static Shard Encode(int firstFile, int fileCount, int[] documentFiles, Span<long> pairs)
        {
            // Unsigned: a key of 0x800000 or more (a first byte of 0x80 or more) sets the sign bit.
            var entries = MemoryMarshal.Cast<long, ulong>(pairs);
            entries.Sort();
            var keys = new List<int>();
            var offsets = new List<int>();
            var postings = new byte[Math.Max(16, pairs.Length + (pairs.Length / 4))];
            var length = 0;
            var lastKey = -1;
            var last = -1;
            foreach (var pair in entries)
            {
                var key = (int)(pair >> 40);
                var file = (int)((pair >> 8) & 0xFFFFFF);
                if (key != lastKey)
                {
                    keys.Add(key);
                    offsets.Add(length);
                    lastKey = key;
                    last = -1;
                }
                if (length + 6 > postings.Length)
                {
                    Array.Resize(ref postings, postings.Length * 2);
                }
                var delta = (uint)(file - last - 1);
                while (delta >= 0x80)
                {
                    postings[length++] = (byte)(delta | 0x80);
                    delta >>= 7;
                }
                postings[length++] = (byte)delta;
                postings[length++] = (byte)pair; // the position mask
                last = file;
            }
            offsets.Add(length);
            Array.Resize(ref postings, length);
            return new Shard(firstFile, fileCount, documentFiles, [.. keys], [.. offsets], postings);
        }
    }
}
