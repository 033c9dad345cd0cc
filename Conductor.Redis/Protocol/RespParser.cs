using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Conductor.Redis.Protocol;

/// <summary>Bounds that keep a hostile or corrupt stream from making the client allocate without limit.</summary>
internal sealed record RespParserLimits
{
    public static readonly RespParserLimits Default = new();

    /// <summary>Redis's own proto-max-bulk-len default.</summary>
    public long MaxBulkLength { get; init; } = 512L * 1024 * 1024;

    public int MaxAggregateLength { get; init; } = 1 << 24;

    public int MaxDepth { get; init; } = 64;

    /// <summary>Longest simple string, error or number line.</summary>
    public int MaxLineLength { get; init; } = 1024 * 1024;
}

/// <summary>
/// Incremental RESP2/RESP3 parser. <see cref="TryRead"/> either consumes one whole frame from the buffer or, when
/// the frame is not complete yet, consumes nothing and returns false, so a caller can feed it data split anywhere.
/// Malformed input throws <see cref="RedisProtocolException"/>: a stream that is out of step cannot be resynchronised.
/// </summary>
internal static class RespParser
{
    // The smallest possible frame ("_\r\n", "+\r\n") is three bytes: an aggregate that declares more elements than
    // a third of the unread bytes cannot be complete yet, which also bounds what a declared length makes us allocate.
    private const int SmallestFrameLength = 3;
    private const int MaxNumberLineLength = 32;

    public static bool TryRead(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out RedisResult? result,
        RespParserLimits? limits = null)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryReadValue(ref reader, limits ?? RespParserLimits.Default, depth: 0, out result))
        {
            result = null;
            return false;
        }
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool TryReadValue(ref SequenceReader<byte> reader, RespParserLimits limits, int depth,
        [NotNullWhen(true)] out RedisResult? result)
    {
        result = null;
        if (depth > limits.MaxDepth)
        {
            throw new RedisProtocolException($"Replies nested deeper than {limits.MaxDepth} levels are not accepted.");
        }
        if (!reader.TryRead(out var type))
        {
            return false;
        }
        switch (type)
        {
            case (byte)'+':
                return TryReadTextLine(ref reader, limits, out var simple) && Set(RedisResult.SimpleString(simple), out result);
            case (byte)'-':
                return TryReadTextLine(ref reader, limits, out var error) && Set(RedisResult.Error(error), out result);
            case (byte)':':
                return TryReadInteger(ref reader, "integer", out var integer) && Set(RedisResult.Integer(integer), out result);
            case (byte)'$':
                return TryReadBlob(ref reader, limits, "bulk string", out var bulk) && Set(bulk is null ? RedisResult.Null : RedisResult.Bulk(bulk), out result);
            case (byte)'!':
                if (!TryReadBlob(ref reader, limits, "blob error", out var blobError))
                {
                    return false;
                }
                result = blobError is null ? RedisResult.Null : RedisResult.Error(Encoding.UTF8.GetString(blobError));
                return true;
            case (byte)'=':
                return TryReadVerbatim(ref reader, limits, out result);
            case (byte)'*':
                return TryReadAggregate(ref reader, limits, depth, RedisResultType.Array, "array", elementsPerEntry: 1, out result);
            case (byte)'~':
                return TryReadAggregate(ref reader, limits, depth, RedisResultType.Set, "set", elementsPerEntry: 1, out result);
            case (byte)'>':
                return TryReadAggregate(ref reader, limits, depth, RedisResultType.Push, "push", elementsPerEntry: 1, out result);
            case (byte)'%':
                return TryReadAggregate(ref reader, limits, depth, RedisResultType.Map, "map", elementsPerEntry: 2, out result);
            case (byte)'|':
                return TryReadAttributed(ref reader, limits, depth, out result);
            case (byte)'_':
                if (!TryReadLine(ref reader, MaxNumberLineLength, out var nullLine))
                {
                    return false;
                }
                if (nullLine.Length != 0)
                {
                    throw new RedisProtocolException("A RESP3 null must be followed directly by CRLF.");
                }
                result = RedisResult.Null;
                return true;
            case (byte)'#':
                if (!TryReadLine(ref reader, MaxNumberLineLength, out var booleanLine))
                {
                    return false;
                }
                result = booleanLine.Length == 1 && booleanLine.FirstSpan[0] is (byte)'t' or (byte)'f'
                    ? RedisResult.Boolean(booleanLine.FirstSpan[0] == (byte)'t')
                    : throw new RedisProtocolException("A RESP3 boolean must be '#t' or '#f'.");
                return true;
            case (byte)',':
                return TryReadDouble(ref reader, out result);
            case (byte)'(':
                return TryReadBigNumber(ref reader, limits, out result);
            default:
                throw new RedisProtocolException($"Unexpected RESP type byte 0x{type:X2} at offset {reader.Consumed - 1} of the frame.");
        }
    }

    private static bool Set(RedisResult value, out RedisResult result)
    {
        result = value;
        return true;
    }

    /// <summary>Reads up to CRLF (exclusive). A bare LF, or CR followed by anything but LF, is malformed.</summary>
    private static bool TryReadLine(ref SequenceReader<byte> reader, int maxLength, out ReadOnlySequence<byte> line)
    {
        line = default;
        var start = reader.Position;
        if (!reader.TryAdvanceToAny("\r\n"u8, advancePastDelimiter: false))
        {
            if (reader.Remaining > maxLength)
            {
                throw new RedisProtocolException($"A RESP line is longer than {maxLength} bytes without CRLF.");
            }
            return false;
        }
        line = reader.Sequence.Slice(start, reader.Position);
        if (line.Length > maxLength)
        {
            throw new RedisProtocolException($"A RESP line is longer than {maxLength} bytes.");
        }
        reader.TryRead(out var terminator);
        if (terminator != (byte)'\r')
        {
            throw new RedisProtocolException("A RESP line ends with LF without the CR before it (missing CRLF).");
        }
        if (!reader.TryRead(out var lineFeed))
        {
            return false;
        }
        if (lineFeed != (byte)'\n')
        {
            throw new RedisProtocolException("A RESP line has CR not followed by LF (missing CRLF).");
        }
        return true;
    }

    private static bool TryReadTextLine(ref SequenceReader<byte> reader, RespParserLimits limits, [NotNullWhen(true)] out string? text)
    {
        text = null;
        if (!TryReadLine(ref reader, limits.MaxLineLength, out var line))
        {
            return false;
        }
        text = Encoding.UTF8.GetString(line);
        return true;
    }

    private static bool TryReadInteger(ref SequenceReader<byte> reader, string what, out long value)
    {
        value = 0;
        if (!TryReadLine(ref reader, MaxNumberLineLength, out var line))
        {
            return false;
        }
        Span<byte> digits = stackalloc byte[MaxNumberLineLength];
        line.CopyTo(digits);
        if (!TryParseStrictInt64(digits[..(int)line.Length], out value))
        {
            throw new RedisProtocolException($"Invalid {what} '{Printable(digits[..(int)line.Length])}' in a RESP frame.");
        }
        return true;
    }

    /// <summary>Optional '-' then 1 to 19 decimal digits; no '+', spaces or overflow.</summary>
    internal static bool TryParseStrictInt64(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        var negative = text.Length > 0 && text[0] == (byte)'-';
        var digits = negative ? text[1..] : text;
        if (digits.Length is 0 or > 19)
        {
            return false;
        }
        ulong magnitude = 0;
        foreach (var digit in digits)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
            magnitude = magnitude * 10 + (ulong)(digit - '0');
        }
        if (magnitude > (negative ? (ulong)long.MaxValue + 1 : long.MaxValue))
        {
            return false;
        }
        value = negative ? (long)(0 - magnitude) : (long)magnitude;
        return true;
    }

    /// <summary>Reads a length-prefixed payload; null for the RESP2 null bulk string ($-1).</summary>
    private static bool TryReadBlob(ref SequenceReader<byte> reader, RespParserLimits limits, string what, out byte[]? payload)
    {
        payload = null;
        if (!TryReadInteger(ref reader, $"{what} length", out var length))
        {
            return false;
        }
        if (length == -1)
        {
            return true;
        }
        if (length < -1)
        {
            throw new RedisProtocolException($"Negative {what} length {length} (only -1, meaning null, is allowed).");
        }
        if (length > limits.MaxBulkLength)
        {
            throw new RedisProtocolException($"Declared {what} length {length} exceeds the limit of {limits.MaxBulkLength} bytes.");
        }
        if (reader.Remaining < length + 2)
        {
            return false;
        }
        var bytes = length == 0 ? [] : new byte[length];
        reader.UnreadSequence.Slice(0, length).CopyTo(bytes);
        reader.Advance(length);
        reader.TryRead(out var carriageReturn);
        reader.TryRead(out var lineFeed);
        if (carriageReturn != (byte)'\r' || lineFeed != (byte)'\n')
        {
            throw new RedisProtocolException($"A {what} of declared length {length} is not followed by CRLF.");
        }
        payload = bytes;
        return true;
    }

    private static bool TryReadVerbatim(ref SequenceReader<byte> reader, RespParserLimits limits, [NotNullWhen(true)] out RedisResult? result)
    {
        result = null;
        if (!TryReadBlob(ref reader, limits, "verbatim string", out var payload))
        {
            return false;
        }
        if (payload is null)
        {
            result = RedisResult.Null;
            return true;
        }
        if (payload.Length < 4 || payload[3] != (byte)':')
        {
            throw new RedisProtocolException("A verbatim string must start with a three-byte format and ':'.");
        }
        result = RedisResult.Verbatim(Encoding.ASCII.GetString(payload, 0, 3), payload[4..]);
        return true;
    }

    private static bool TryReadAggregate(ref SequenceReader<byte> reader, RespParserLimits limits, int depth,
        RedisResultType type, string what, int elementsPerEntry, [NotNullWhen(true)] out RedisResult? result)
    {
        result = null;
        if (!TryReadInteger(ref reader, $"{what} length", out var count))
        {
            return false;
        }
        if (count == -1)
        {
            result = RedisResult.Null;
            return true;
        }
        if (count < -1)
        {
            throw new RedisProtocolException($"Negative {what} length {count} (only -1, meaning null, is allowed).");
        }
        if (count > limits.MaxAggregateLength)
        {
            throw new RedisProtocolException($"Declared {what} length {count} exceeds the limit of {limits.MaxAggregateLength}.");
        }
        var elementCount = count * elementsPerEntry;
        if (reader.Remaining < elementCount * SmallestFrameLength)
        {
            return false;
        }
        var elements = elementCount == 0 ? [] : new RedisResult[elementCount];
        for (var i = 0; i < elements.Length; i++)
        {
            if (!TryReadValue(ref reader, limits, depth + 1, out var element))
            {
                return false;
            }
            elements[i] = element;
        }
        result = RedisResult.Aggregate(type, elements);
        return true;
    }

    /// <summary>RESP3 attributes: a map of metadata, then the reply it describes (which carries it).</summary>
    private static bool TryReadAttributed(ref SequenceReader<byte> reader, RespParserLimits limits, int depth, [NotNullWhen(true)] out RedisResult? result)
    {
        result = null;
        if (!TryReadAggregate(ref reader, limits, depth, RedisResultType.Map, "attribute", elementsPerEntry: 2, out var attributes))
        {
            return false;
        }
        if (attributes.IsNull)
        {
            throw new RedisProtocolException("A RESP3 attribute cannot be null.");
        }
        if (!TryReadValue(ref reader, limits, depth + 1, out var value))
        {
            return false;
        }
        result = value.WithAttributes(attributes.Elements);
        return true;
    }

    private static bool TryReadDouble(ref SequenceReader<byte> reader, [NotNullWhen(true)] out RedisResult? result)
    {
        result = null;
        if (!TryReadLine(ref reader, MaxNumberLineLength * 4, out var line))
        {
            return false;
        }
        var text = Encoding.ASCII.GetString(line);
        double value;
        switch (text)
        {
            case "inf" or "+inf":
                value = double.PositiveInfinity;
                break;
            case "-inf":
                value = double.NegativeInfinity;
                break;
            case "nan" or "-nan":
                value = double.NaN;
                break;
            default:
                const NumberStyles style = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
                if (!double.TryParse(text, style, CultureInfo.InvariantCulture, out value))
                {
                    throw new RedisProtocolException($"Invalid RESP3 double '{Printable(Encoding.ASCII.GetBytes(text))}'.");
                }
                break;
        }
        result = RedisResult.Double(value);
        return true;
    }

    private static bool TryReadBigNumber(ref SequenceReader<byte> reader, RespParserLimits limits, [NotNullWhen(true)] out RedisResult? result)
    {
        result = null;
        if (!TryReadLine(ref reader, limits.MaxLineLength, out var line))
        {
            return false;
        }
        var text = Encoding.ASCII.GetString(line);
        var digits = text.StartsWith('-') || text.StartsWith('+') ? text.AsSpan(1) : text.AsSpan();
        if (digits.IsEmpty || !digits.ContainsOnlyDigits())
        {
            throw new RedisProtocolException("Invalid RESP3 big number.");
        }
        result = RedisResult.BigNumber(text);
        return true;
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            builder.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        }
        return builder.ToString();
    }
}

file static class DigitExtensions
{
    public static bool ContainsOnlyDigits(this ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return true;
    }
}
