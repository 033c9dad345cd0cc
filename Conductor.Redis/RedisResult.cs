using System.Globalization;
using System.Numerics;
using System.Text;

namespace Conductor.Redis;

/// <summary>The RESP2/RESP3 type of a reply.</summary>
public enum RedisResultType
{
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
    Null,
    Boolean,
    Double,
    BigNumber,
    VerbatimString,
    Map,
    Set,
    Push,
}

/// <summary>
/// One reply from the server, of any RESP2 or RESP3 type. Maps keep their keys and values interleaved in
/// <see cref="Elements"/> so that <see cref="AsPairs"/> reads a RESP3 map and a RESP2 flat array the same way.
/// RESP3 attributes that preceded the reply are in <see cref="Attributes"/>.
/// </summary>
public sealed class RedisResult
{
    private static readonly RedisResult[] SmallIntegers = CreateSmallIntegers();
    private static readonly IReadOnlyList<RedisResult> NoElements = [];

    public static readonly RedisResult Null = new(RedisResultType.Null, null, null, 0, null);
    public static readonly RedisResult True = new(RedisResultType.Boolean, null, null, 1, null);
    public static readonly RedisResult False = new(RedisResultType.Boolean, null, null, 0, null);
    public static readonly RedisResult Ok = new(RedisResultType.SimpleString, "OK", null, 0, null);
    private static readonly RedisResult Pong = new(RedisResultType.SimpleString, "PONG", null, 0, null);
    private static readonly RedisResult Queued = new(RedisResultType.SimpleString, "QUEUED", null, 0, null);

    private readonly string? _text;        // simple string, error, big number, verbatim format
    private readonly byte[]? _bytes;       // bulk string, verbatim payload, blob error payload
    private readonly long _number;         // integer, boolean (0/1), double bits
    private readonly RedisResult[]? _elements;

    private RedisResult(RedisResultType type, string? text, byte[]? bytes, long number, RedisResult[]? elements,
        IReadOnlyList<RedisResult>? attributes = null)
    {
        Type = type;
        _text = text;
        _bytes = bytes;
        _number = number;
        _elements = elements;
        Attributes = attributes;
    }

    public RedisResultType Type { get; }

    public bool IsNull => Type == RedisResultType.Null;

    public bool IsError => Type == RedisResultType.Error;

    /// <summary>Elements of an array, set, push or map (keys and values interleaved); empty for scalars.</summary>
    public IReadOnlyList<RedisResult> Elements => _elements ?? NoElements;

    /// <summary>RESP3 attributes (a map, keys and values interleaved) sent before this reply, if any.</summary>
    public IReadOnlyList<RedisResult>? Attributes { get; }

    /// <summary>The three-letter format of a verbatim string ("txt", "mkd").</summary>
    public string? VerbatimFormat => Type == RedisResultType.VerbatimString ? _text : null;

    internal static RedisResult SimpleString(string text) => text switch
    {
        "OK" => Ok,
        "PONG" => Pong,
        "QUEUED" => Queued,
        _ => new(RedisResultType.SimpleString, text, null, 0, null),
    };

    internal static RedisResult Error(string message) => new(RedisResultType.Error, message, null, 0, null);

    internal static RedisResult Integer(long value) =>
        value is >= -1 and < 256 ? SmallIntegers[value + 1] : new(RedisResultType.Integer, null, null, value, null);

    internal static RedisResult Bulk(byte[] bytes) => new(RedisResultType.BulkString, null, bytes, 0, null);

    internal static RedisResult Boolean(bool value) => value ? True : False;

    internal static RedisResult Double(double value) =>
        new(RedisResultType.Double, null, null, BitConverter.DoubleToInt64Bits(value), null);

    internal static RedisResult BigNumber(string digits) => new(RedisResultType.BigNumber, digits, null, 0, null);

    internal static RedisResult Verbatim(string format, byte[] payload) =>
        new(RedisResultType.VerbatimString, format, payload, 0, null);

    internal static RedisResult Aggregate(RedisResultType type, RedisResult[] elements) => new(type, null, null, 0, elements);

    /// <summary>A copy carrying attributes (the shared cached instances are never mutated).</summary>
    internal RedisResult WithAttributes(IReadOnlyList<RedisResult> attributes) =>
        new(Type, _text, _bytes, _number, _elements, attributes);

    /// <summary>Text of any scalar (bytes decoded as UTF-8); null for null. Aggregates are not text.</summary>
    public string? AsString() => Type switch
    {
        RedisResultType.Null => null,
        RedisResultType.SimpleString or RedisResultType.BigNumber => _text,
        RedisResultType.Error => _text ?? Encoding.UTF8.GetString(_bytes!),
        RedisResultType.BulkString or RedisResultType.VerbatimString => Encoding.UTF8.GetString(_bytes!),
        RedisResultType.Integer => _number.ToString(CultureInfo.InvariantCulture),
        RedisResultType.Boolean => _number != 0 ? "true" : "false",
        RedisResultType.Double => FormatDouble(BitConverter.Int64BitsToDouble(_number)),
        _ => throw new InvalidCastException($"A Redis {Type} reply is not a string."),
    };

    /// <summary>Bytes of a bulk or verbatim string (other scalars as UTF-8); null for null.</summary>
    public byte[]? AsBytes() => Type switch
    {
        RedisResultType.Null => null,
        RedisResultType.BulkString or RedisResultType.VerbatimString => _bytes,
        _ => Encoding.UTF8.GetBytes(AsString()!),
    };

    public long AsInt64() => Type switch
    {
        RedisResultType.Integer or RedisResultType.Boolean => _number,
        RedisResultType.Null => throw new InvalidCastException("A null Redis reply is not an integer."),
        RedisResultType.SimpleString or RedisResultType.BulkString or RedisResultType.BigNumber =>
            long.TryParse(AsString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed)
                ? parsed
                : throw new InvalidCastException("The Redis reply is not an integer."),
        _ => throw new InvalidCastException($"A Redis {Type} reply is not an integer."),
    };

    public double AsDouble() => Type switch
    {
        RedisResultType.Double => BitConverter.Int64BitsToDouble(_number),
        RedisResultType.Integer => _number,
        RedisResultType.SimpleString or RedisResultType.BulkString or RedisResultType.BigNumber => ParseDouble(AsString()!),
        _ => throw new InvalidCastException($"A Redis {Type} reply is not a number."),
    };

    public BigInteger AsBigInteger() => Type switch
    {
        RedisResultType.Integer => _number,
        RedisResultType.BigNumber or RedisResultType.SimpleString or RedisResultType.BulkString =>
            BigInteger.Parse(AsString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
        _ => throw new InvalidCastException($"A Redis {Type} reply is not an integer."),
    };

    /// <summary>RESP3 booleans, integers 0/1 (RESP2's booleans) and "OK".</summary>
    public bool AsBoolean() => Type switch
    {
        RedisResultType.Boolean or RedisResultType.Integer => _number != 0,
        RedisResultType.SimpleString => _text == "OK",
        RedisResultType.Null => false,
        _ => throw new InvalidCastException($"A Redis {Type} reply is not a boolean."),
    };

    public RedisValue AsValue() => Type switch
    {
        RedisResultType.Null => RedisValue.Null,
        RedisResultType.BulkString or RedisResultType.VerbatimString => _bytes,
        RedisResultType.Integer => _number,
        _ => AsString(),
    };

    /// <summary>Key/value pairs of a RESP3 map or of a RESP2 array holding keys and values alternately.</summary>
    public IReadOnlyList<KeyValuePair<RedisResult, RedisResult>> AsPairs()
    {
        if (Type == RedisResultType.Null)
        {
            return [];
        }
        if (Type is not (RedisResultType.Map or RedisResultType.Array or RedisResultType.Set) || Elements.Count % 2 != 0)
        {
            throw new InvalidCastException($"A Redis {Type} reply with {Elements.Count} elements is not a list of pairs.");
        }
        var pairs = new KeyValuePair<RedisResult, RedisResult>[Elements.Count / 2];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = new(Elements[2 * i], Elements[2 * i + 1]);
        }
        return pairs;
    }

    // Redis's spelling, so the text can be sent back as an argument.
    private static string FormatDouble(double value) => value switch
    {
        double.PositiveInfinity => "inf",
        double.NegativeInfinity => "-inf",
        double.NaN => "nan",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    internal static double ParseDouble(string text) => text switch
    {
        "inf" or "+inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        "nan" => double.NaN,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidCastException("The Redis value is not a number."),
    };

    public override string ToString() => Type switch
    {
        RedisResultType.Null => "(nil)",
        RedisResultType.Error => $"(error) {AsString()}",
        RedisResultType.Array or RedisResultType.Set or RedisResultType.Push or RedisResultType.Map =>
            $"{Type}[{string.Join(", ", Elements)}]",
        _ => AsString() ?? string.Empty,
    };

    private static RedisResult[] CreateSmallIntegers()
    {
        var values = new RedisResult[257];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = new RedisResult(RedisResultType.Integer, null, null, i - 1, null);
        }
        return values;
    }
}
