using System.Text;
using DiffPlex;

namespace Conductor.Api.Changes;

/// <summary>Unified diffs (the <c>git diff</c> format, 3 lines of context) between two texts, over DiffPlex's line diff.</summary>
public static class UnifiedDiff
{
    private const int Context = 3;
    private const string NoNewline = "\n\\ No newline at end of file";

    private enum Op { Equal, Delete, Insert }

    /// <summary>The diff turning <paramref name="before"/> into <paramref name="after"/> (null: the file is absent on that side).</summary>
    public static string Create(string path, string? before, string? after)
    {
        var oldLines = SplitLines(before ?? "");
        var newLines = SplitLines(after ?? "");
        var header = new StringBuilder()
            .Append("--- ").Append(before is null ? "/dev/null" : "a/" + path).Append('\n')
            .Append("+++ ").Append(after is null ? "/dev/null" : "b/" + path).Append('\n');

        // DiffPlex compares the lines we give it: the chunker hands back our split (which marks a missing final newline).
        var result = new Differ().CreateCustomDiffs("old", "new", ignoreWhiteSpace: false,
            chunker: side => side == "old" ? oldLines : newLines);

        var ops = new List<(Op Op, string Line)>();
        int a = 0, b = 0;
        foreach (var block in result.DiffBlocks.OrderBy(x => x.DeleteStartA))
        {
            while (a < block.DeleteStartA)
            {
                ops.Add((Op.Equal, oldLines[a++]));
                b++;
            }
            for (var i = 0; i < block.DeleteCountA; i++)
            {
                ops.Add((Op.Delete, oldLines[a++]));
            }
            for (var i = 0; i < block.InsertCountB; i++)
            {
                ops.Add((Op.Insert, newLines[b++]));
            }
        }
        while (a < oldLines.Length)
        {
            ops.Add((Op.Equal, oldLines[a++]));
        }

        var changed = Enumerable.Range(0, ops.Count).Where(i => ops[i].Op != Op.Equal).ToList();
        if (changed.Count == 0)
        {
            return "";
        }
        var body = new StringBuilder();
        var index = 0;
        while (index < changed.Count)
        {
            var start = Math.Max(0, changed[index] - Context);
            var last = changed[index];
            while (index + 1 < changed.Count && changed[index + 1] - last <= 2 * Context)
            {
                last = changed[++index];
            }
            index++;
            var end = Math.Min(ops.Count, last + Context + 1);
            AppendHunk(body, ops, start, end);
        }
        return header.Append(body).ToString();
    }

    private static void AppendHunk(StringBuilder output, List<(Op Op, string Line)> ops, int start, int end)
    {
        // Line numbers before the hunk: every op before it that exists on that side.
        var oldBefore = ops.Take(start).Count(o => o.Op != Op.Insert);
        var newBefore = ops.Take(start).Count(o => o.Op != Op.Delete);
        var oldCount = ops.Skip(start).Take(end - start).Count(o => o.Op != Op.Insert);
        var newCount = ops.Skip(start).Take(end - start).Count(o => o.Op != Op.Delete);
        output.Append("@@ -").Append(Range(oldBefore, oldCount)).Append(" +").Append(Range(newBefore, newCount)).Append(" @@\n");
        for (var i = start; i < end; i++)
        {
            var (op, line) = ops[i];
            output.Append(op switch { Op.Delete => '-', Op.Insert => '+', _ => ' ' }).Append(line).Append('\n');
        }
    }

    private static string Range(int before, int count) =>
        count == 0 ? $"{before},0" : count == 1 ? $"{before + 1}" : $"{before + 1},{count}";

    /// <summary>Lines without their terminators; a last line without a newline carries git's marker, so that adding one shows.</summary>
    private static string[] SplitLines(string text)
    {
        if (text.Length == 0)
        {
            return [];
        }
        var lines = text.Split('\n');
        if (lines[^1].Length == 0)
        {
            return lines[..^1];
        }
        lines[^1] += NoNewline;
        return lines;
    }
}
