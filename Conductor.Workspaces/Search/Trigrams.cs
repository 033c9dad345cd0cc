namespace Conductor.Workspaces.Search;

/// <summary>
/// Byte trigrams as the search index keys them: three consecutive bytes of the raw UTF-8 file, ASCII letters folded to
/// lower case (so one index serves case-sensitive and ASCII case-insensitive queries: a file that contains a literal,
/// in either sense, contains the folded trigrams of the folded literal), as a 24-bit number.
/// </summary>
internal static class Trigrams
{
    private static readonly byte[] Fold = MakeFold();

    public static byte FoldByte(byte b) => Fold[b];

    /// <summary>
    /// Adds each distinct trigram of <paramref name="data"/> (which starts at <paramref name="fileOffset"/> of its file)
    /// to <paramref name="keys"/> once, as <c>key &lt;&lt; 40 | document &lt;&lt; 8 | mask</c>, where bit <c>k</c> of the mask
    /// says the trigram starts at some offset ≡ k (mod 8). <paramref name="seen"/> (2^24 entries) remembers the last
    /// <paramref name="stamp"/> that saw each key, so nothing is cleared between documents; <paramref name="slot"/> where
    /// its entry is, to add mask bits.
    /// </summary>
    public static void AddDistinct(ReadOnlySpan<byte> data, int fileOffset, int[] seen, int[] slot, int stamp, ref long[] keys, ref int count, long document)
    {
        if (data.Length < 3)
        {
            return;
        }
        var fold = Fold;
        var key = (fold[data[0]] << 8) | fold[data[1]];
        var high = document << 8;
        for (var i = 2; i < data.Length; i++)
        {
            key = ((key << 8) | fold[data[i]]) & 0xFFFFFF;
            var bit = 1L << ((fileOffset + i - 2) & 7);
            if (seen[key] != stamp)
            {
                seen[key] = stamp;
                if (count == keys.Length)
                {
                    Array.Resize(ref keys, keys.Length * 2);
                }
                slot[key] = count;
                keys[count++] = ((long)key << 40) | high | bit;
            }
            else
            {
                keys[slot[key]] |= bit;
            }
        }
    }

    /// <summary>Every trigram of a literal with its offset in it (a trigram that occurs twice is listed twice).</summary>
    public static PositionedTrigram[] Positioned(byte[] literal)
    {
        var result = new PositionedTrigram[Math.Max(0, literal.Length - 2)];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new PositionedTrigram((Fold[literal[i]] << 16) | (Fold[literal[i + 1]] << 8) | Fold[literal[i + 2]], i);
        }
        return result;
    }

    /// <summary>The distinct trigrams of one file, sorted (for the in-memory entries of changed files).</summary>
    public static int[] DistinctSorted(ReadOnlySpan<byte> data)
    {
        if (data.Length < 3)
        {
            return [];
        }
        var set = new HashSet<int>();
        var key = (Fold[data[0]] << 8) | Fold[data[1]];
        for (var i = 2; i < data.Length; i++)
        {
            key = ((key << 8) | Fold[data[i]]) & 0xFFFFFF;
            set.Add(key);
        }
        var sorted = set.ToArray();
        Array.Sort(sorted);
        return sorted;
    }

    /// <summary>The distinct trigrams every match must contain: those of each required literal (empty: the index cannot help).</summary>
    public static int[] OfLiterals(IEnumerable<byte[]> literals)
    {
        var set = new HashSet<int>();
        foreach (var literal in literals)
        {
            for (var i = 0; i + 3 <= literal.Length; i++)
            {
                set.Add((Fold[literal[i]] << 16) | (Fold[literal[i + 1]] << 8) | Fold[literal[i + 2]]);
            }
        }
        var sorted = set.ToArray();
        Array.Sort(sorted);
        return sorted;
    }

    /// <summary>Per required literal of three bytes or more, its distinct trigrams (sorted).</summary>
    public static PositionedTrigram[][] Groups(IEnumerable<byte[]> literals) =>
        [.. literals.Where(l => l.Length >= 3).Select(Positioned)];

    private static byte[] MakeFold()
    {
        var fold = new byte[256];
        for (var i = 0; i < 256; i++)
        {
            fold[i] = i is >= 'A' and <= 'Z' ? (byte)(i | 0x20) : (byte)i;
        }
        return fold;
    }
}

/// <param name="Offset">Where the trigram starts in its literal.</param>
internal readonly record struct PositionedTrigram(int Key, int Offset);
