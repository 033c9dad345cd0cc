using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace Conductor.Workspaces.Search;

/// <summary>
/// Finds a literal in UTF-8 bytes, optionally ASCII case-insensitive (the needle is then ASCII). A vectorised
/// "packed pair" search: the two needle bytes least frequent in source code are compared at their offsets for 32
/// positions at once (a letter through <c>b | 0x20</c>, which folds exactly its two cases), and only positions where
/// both agree are verified. Rare bytes make false candidates rare, whatever the case.
/// </summary>
internal sealed class LiteralFinder
{
    private readonly byte[] _needle;
    private readonly bool _ignoreCase;
    private readonly int _offset1;
    private readonly int _offset2;
    private readonly byte _value1;
    private readonly byte _value2;
    private readonly byte _fold1;
    private readonly byte _fold2;

    public LiteralFinder(byte[] needle, bool ignoreCase)
    {
        if (needle.Length == 0)
        {
            throw new ArgumentException("The needle is empty.", nameof(needle));
        }
        if (ignoreCase && !Ascii.IsValid(needle))
        {
            throw new ArgumentException("A case-insensitive needle must be ASCII.", nameof(needle));
        }
        _needle = needle;
        _ignoreCase = ignoreCase;
        _offset1 = Rarest(needle, ignoreCase, exclude: -1);
        _offset2 = needle.Length == 1 ? 0 : Rarest(needle, ignoreCase, exclude: _offset1);
        (_value1, _fold1) = Folded(needle[_offset1], ignoreCase);
        (_value2, _fold2) = Folded(needle[_offset2], ignoreCase);
    }

    public int Length => _needle.Length;

    /// <summary>The first offset at or after <paramref name="from"/> where the needle starts, or -1.</summary>
    public int IndexOf(ReadOnlySpan<byte> data, int from)
    {
        var n = _needle.Length;
        var last = data.Length - n; // the last possible start
        var position = from;
        ref var start = ref MemoryMarshal.GetReference(data);
        if (Vector256.IsHardwareAccelerated && last - position >= Vector256<byte>.Count)
        {
            var value1 = Vector256.Create(_value1);
            var value2 = Vector256.Create(_value2);
            var fold1 = Vector256.Create(_fold1);
            var fold2 = Vector256.Create(_fold2);
            // Loads read [position + offset, position + offset + 32): in bounds while position + 31 <= last.
            while (position <= last - (Vector256<byte>.Count - 1))
            {
                var first = Vector256.LoadUnsafe(ref start, (nuint)(position + _offset1)) | fold1;
                var second = Vector256.LoadUnsafe(ref start, (nuint)(position + _offset2)) | fold2;
                var mask = (Vector256.Equals(first, value1) & Vector256.Equals(second, value2)).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    var candidate = position + BitOperations.TrailingZeroCount(mask);
                    if (Verify(data.Slice(candidate, n)))
                    {
                        return candidate;
                    }
                    mask &= mask - 1;
                }
                position += Vector256<byte>.Count;
            }
        }
        else if (Vector128.IsHardwareAccelerated && last - position >= Vector128<byte>.Count)
        {
            var value1 = Vector128.Create(_value1);
            var value2 = Vector128.Create(_value2);
            var fold1 = Vector128.Create(_fold1);
            var fold2 = Vector128.Create(_fold2);
            while (position <= last - (Vector128<byte>.Count - 1))
            {
                var first = Vector128.LoadUnsafe(ref start, (nuint)(position + _offset1)) | fold1;
                var second = Vector128.LoadUnsafe(ref start, (nuint)(position + _offset2)) | fold2;
                var mask = (Vector128.Equals(first, value1) & Vector128.Equals(second, value2)).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    var candidate = position + BitOperations.TrailingZeroCount(mask);
                    if (Verify(data.Slice(candidate, n)))
                    {
                        return candidate;
                    }
                    mask &= mask - 1;
                }
                position += Vector128<byte>.Count;
            }
        }
        for (; position <= last; position++)
        {
            if ((data[position + _offset1] | _fold1) == _value1 && (data[position + _offset2] | _fold2) == _value2 && Verify(data.Slice(position, n)))
            {
                return position;
            }
        }
        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Verify(ReadOnlySpan<byte> candidate) =>
        _ignoreCase ? Ascii.EqualsIgnoreCase(candidate, _needle) : candidate.SequenceEqual(_needle);

    private static (byte Value, byte Fold) Folded(byte b, bool ignoreCase) =>
        ignoreCase && char.IsAsciiLetter((char)b) ? ((byte)(b | 0x20), (byte)0x20) : (b, (byte)0);

    private static int Rarest(byte[] needle, bool ignoreCase, int exclude)
    {
        var best = -1;
        var bestScore = int.MaxValue;
        for (var i = 0; i < needle.Length; i++)
        {
            if (i == exclude || (exclude >= 0 && needle[i] == needle[exclude] && HasOtherValue(needle, needle[exclude])))
            {
                continue; // a second byte of the same value tells little
            }
            var b = needle[i];
            var score = ignoreCase && char.IsAsciiLetter((char)b)
                ? Math.Max(Frequency[b | 0x20], Frequency[b & ~0x20]) + 1
                : Frequency[b];
            if (score < bestScore)
            {
                best = i;
                bestScore = score;
            }
        }
        return best;
    }

    private static bool HasOtherValue(byte[] needle, byte value) => needle.AsSpan().IndexOfAnyExcept(value) >= 0;

    /// <summary>Log-scaled byte frequencies (0 never seen, 255 most common) measured on the Linux kernel's source.</summary>
    private static ReadOnlySpan<byte> Frequency =>
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 159, 155, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        200, 38, 96, 89, 32, 41, 75, 23, 119, 119, 119, 55, 131, 117, 97, 100, 143, 113, 107, 95, 89, 78, 85, 74, 86, 65, 74, 121, 69, 111, 103, 1,
        27, 118, 95, 119, 112, 127, 108, 96, 84, 121, 1, 72, 113, 110, 110, 105, 113, 47, 118, 120, 121, 92, 90, 67, 80, 61, 24, 57, 50, 57, 1, 168,
        1, 148, 115, 145, 145, 168, 135, 116, 117, 155, 26, 100, 138, 128, 150, 144, 133, 71, 154, 151, 160, 134, 115, 94, 117, 93, 54, 87, 46, 87, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 1, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
}
