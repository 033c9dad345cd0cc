using System.Text;

namespace Conductor.Workspaces.Search;

/// <summary>
/// Relative paths as git prints them with <c>-z</c>: UTF-8, each followed by its NUL (so a path is handed to the
/// kernel as is, without a copy), in byte order. Paths are decoded to strings only for files with matches (and for
/// include/exclude globs).
/// </summary>
internal sealed class FileList
{
    public static readonly FileList Empty = new([], [], []);

    private readonly byte[] _bytes;
    private readonly int[] _starts;
    private readonly int[] _ends; // offset of each path's NUL

    private FileList(byte[] bytes, int[] starts, int[] ends)
    {
        _bytes = bytes;
        _starts = starts;
        _ends = ends;
    }

    public int Count => _starts.Length;

    /// <summary>The path with its terminating NUL.</summary>
    public ReadOnlySpan<byte> Path(int index) => _bytes.AsSpan(_starts[index], _ends[index] - _starts[index] + 1);

    public ReadOnlySpan<byte> Name(int index) => _bytes.AsSpan(_starts[index], _ends[index] - _starts[index]);

    public string PathString(int index) => Encoding.UTF8.GetString(Name(index));

    /// <summary><c>git ls-files -z --stage</c>: <c>mode SP object SP stage TAB path NUL</c>. Symlinks (120000) and
    /// submodules (160000) are left out; the stages of a conflicted path count once.</summary>
    public static FileList FromStage(byte[] output)
    {
        var starts = new List<int>(output.Length / 64);
        var ends = new List<int>(output.Length / 64);
        var position = 0;
        while (position < output.Length)
        {
            var end = output.AsSpan(position).IndexOf((byte)0);
            end = end < 0 ? output.Length : position + end;
            var entry = output.AsSpan(position, end - position);
            var tab = entry.IndexOf((byte)'\t');
            var space = entry.IndexOf((byte)' ');
            if (tab > 0 && space > 0 && space < tab && end < output.Length)
            {
                var mode = entry[..space];
                var pathStart = position + tab + 1;
                var isLinkOrSubmodule = mode.SequenceEqual("120000"u8) || mode.SequenceEqual("160000"u8);
                var duplicate = starts.Count > 0 &&
                    output.AsSpan(pathStart, end - pathStart).SequenceEqual(output.AsSpan(starts[^1], ends[^1] - starts[^1]));
                if (!isLinkOrSubmodule && !duplicate && end > pathStart)
                {
                    starts.Add(pathStart);
                    ends.Add(end);
                }
            }
            position = end + 1;
        }
        return Sorted(output, [.. starts], [.. ends]);
    }

    /// <summary><c>git ls-files -z</c> without <c>--stage</c>: <c>path NUL</c>.</summary>
    public static FileList FromNames(byte[] output)
    {
        var starts = new List<int>(output.Length / 32);
        var ends = new List<int>(output.Length / 32);
        var position = 0;
        while (position < output.Length)
        {
            var end = output.AsSpan(position).IndexOf((byte)0);
            if (end < 0)
            {
                break; // no NUL: a truncated last entry
            }
            if (end > 0)
            {
                starts.Add(position);
                ends.Add(position + end);
            }
            position += end + 1;
        }
        return Sorted(output, [.. starts], [.. ends]);
    }

    public static FileList FromStrings(IReadOnlyList<string> paths)
    {
        var bytes = new byte[paths.Sum(p => Encoding.UTF8.GetByteCount(p) + 1)];
        var starts = new int[paths.Count];
        var ends = new int[paths.Count];
        var position = 0;
        for (var i = 0; i < paths.Count; i++)
        {
            starts[i] = position;
            position += Encoding.UTF8.GetBytes(paths[i], bytes.AsSpan(position));
            ends[i] = position++;
        }
        return Sorted(bytes, starts, ends);
    }

    /// <summary>Both lists' paths, in byte order, as strings.</summary>
    public static IReadOnlyList<string> Merge(FileList a, FileList b)
    {
        var merged = new List<string>(a.Count + b.Count);
        int i = 0, j = 0;
        while (i < a.Count || j < b.Count)
        {
            var takeA = j >= b.Count || (i < a.Count && a.Name(i).SequenceCompareTo(b.Name(j)) <= 0);
            merged.Add(takeA ? a.PathString(i++) : b.PathString(j++));
        }
        return merged;
    }

    private static FileList Sorted(byte[] bytes, int[] starts, int[] ends)
    {
        var list = new FileList(bytes, starts, ends);
        for (var i = 1; i < starts.Length; i++)
        {
            if (list.Name(i - 1).SequenceCompareTo(list.Name(i)) > 0)
            {
                // git prints both lists sorted already; this is for other callers.
                var order = Enumerable.Range(0, starts.Length).ToArray();
                Array.Sort(order, (x, y) => list.Name(x).SequenceCompareTo(list.Name(y)));
                return new FileList(bytes, [.. order.Select(k => starts[k])], [.. order.Select(k => ends[k])]);
            }
        }
        return list;
    }
}

/// <summary>The matches of an exact ordered prefix of a <see cref="FileList"/> (files [0, complete) all searched).</summary>
internal sealed class FileResults(FileList files, List<SearchMatch>?[] perFile, int complete)
{
    private readonly FileList _files = files;
    private readonly List<SearchMatch>?[] _perFile = perFile;

    public static readonly FileResults Empty = new(FileList.Empty, [], 0);

    /// <summary>The first <paramref name="max"/> matches of both, in path order.</summary>
    public static IReadOnlyList<SearchMatch> Merge(FileResults a, FileResults b, int max)
    {
        var results = new List<SearchMatch>(Math.Min(max, 1024));
        int i = a.NextWithMatches(0), j = b.NextWithMatches(0);
        while (results.Count < max && (i >= 0 || j >= 0))
        {
            var takeA = j < 0 || (i >= 0 && a._files.Name(i).SequenceCompareTo(b._files.Name(j)) <= 0);
            var matches = takeA ? a._perFile[i]! : b._perFile[j]!;
            for (var k = 0; k < matches.Count && results.Count < max; k++)
            {
                results.Add(matches[k]);
            }
            if (takeA)
            {
                i = a.NextWithMatches(i + 1);
            }
            else
            {
                j = b.NextWithMatches(j + 1);
            }
        }
        return results;
    }

    private int NextWithMatches(int from)
    {
        for (var i = from; i < complete; i++)
        {
            if (_perFile[i] is not null)
            {
                return i;
            }
        }
        return -1;
    }
}
