using Conductor.Api.Changes;

namespace Conductor.Tests.Changes;

public sealed class UnifiedDiffTests
{
    [Fact]
    public void A_modification_gets_hunks_with_three_lines_of_context()
    {
        var before = string.Join("\n", Enumerable.Range(1, 20).Select(i => $"line {i}")) + "\n";
        var after = before.Replace("line 10\n", "line ten\n", StringComparison.Ordinal);
        Assert.Equal("""
            --- a/src/a.txt
            +++ b/src/a.txt
            @@ -7,7 +7,7 @@
             line 7
             line 8
             line 9
            -line 10
            +line ten
             line 11
             line 12
             line 13

            """.ReplaceLineEndings("\n"), UnifiedDiff.Create("src/a.txt", before, after));
    }

    [Fact]
    public void Distant_edits_make_separate_hunks_and_close_ones_merge()
    {
        var before = string.Join("\n", Enumerable.Range(1, 30).Select(i => $"{i}")) + "\n";
        var after = before.Replace("\n2\n", "\ntwo\n", StringComparison.Ordinal).Replace("\n25\n", "\n", StringComparison.Ordinal);
        var diff = UnifiedDiff.Create("n.txt", before, after);
        Assert.Equal(["@@ -1,5 +1,5 @@", "@@ -22,7 +22,6 @@"], diff.Split('\n').Where(l => l.StartsWith("@@", StringComparison.Ordinal)));
    }

    [Fact]
    public void Creation_and_deletion_diff_against_dev_null()
    {
        Assert.Equal("--- /dev/null\n+++ b/new.md\n@@ -0,0 +1,2 @@\n+# Title\n+text\n", UnifiedDiff.Create("new.md", null, "# Title\ntext\n"));
        Assert.Equal("--- a/old.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n", UnifiedDiff.Create("old.md", "gone\n", null));
    }

    [Fact]
    public void A_missing_final_newline_is_marked()
    {
        Assert.Equal("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n", UnifiedDiff.Create("f", "x", "x\n"));
    }

    [Fact]
    public void Identical_texts_have_an_empty_diff() => Assert.Equal("", UnifiedDiff.Create("f", "same\n", "same\n"));
}
