namespace Conductor.Workspaces.Search;

/// <summary>
/// Orders strings as their UTF-8 bytes compare (git's path order). Ordinal UTF-16 order differs only where a surrogate
/// (U+D800–DFFF, a character above U+FFFF) meets U+E000–FFFF: in UTF-8 the former sorts after.
/// </summary>
internal sealed class Utf8Order : IComparer<string>
{
    public static readonly Utf8Order Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }
        if (x is null || y is null)
        {
            return x is null ? -1 : 1;
        }
        var length = Math.Min(x.Length, y.Length);
        for (var i = 0; i < length; i++)
        {
            var a = x[i];
            var b = y[i];
            if (a != b)
            {
                return Rank(a) - Rank(b);
            }
        }
        return x.Length - y.Length;
    }

    private static int Rank(char c) => c >= 0xE000 ? c - 0x800 : c >= 0xD800 ? c + 0x2000 : c;
}
