using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Conductor.Redis;

/// <summary>
/// A command argument or a single returned value: a string, a byte payload, an integer, a double, or null.
/// Strings travel as UTF-8. A struct so that building arguments costs no allocation beyond the value itself.
/// </summary>
public readonly struct RedisValue : IEquatable<RedisValue>
{
    private enum Kind : byte { Null, String, Bytes, Int64, Double }

    private readonly object? _reference;
    private readonly long _number;
    private readonly Kind _kind;

    private RedisValue(object? reference, long number, Kind kind)
    {
        _reference = reference;
        _number = number;
        _kind = kind;
    }

    public static RedisValue Null => default;

    public bool IsNull => _kind == Kind.Null;

    public static implicit operator RedisValue(string? value) => value is null ? Null : new(value, 0, Kind.String);
    public static implicit operator RedisValue(byte[]? value) => value is null ? Null : new(value, 0, Kind.Bytes);
    public static implicit operator RedisValue(ReadOnlyMemory<byte> value) => new(value.ToArray(), 0, Kind.Bytes);
    public static implicit operator RedisValue(long value) => new(null, value, Kind.Int64);
    public static implicit operator RedisValue(int value) => new(null, value, Kind.Int64);
    public static implicit operator RedisValue(double value) => new(null, BitConverter.DoubleToInt64Bits(value), Kind.Double);

    public static explicit operator string?(RedisValue value) => value.ToString();
    public static explicit operator byte[]?(RedisValue value) => value.ToBytes();
    public static explicit operator long(RedisValue value) => value.ToInt64();
    public static explicit operator double(RedisValue value) => value.ToDouble();

    /// <summary>The value as text (UTF-8 decoded when it is a byte payload); null when the value is null.</summary>
    public override string? ToString() => _kind switch
    {
        Kind.Null => null,
        Kind.String => (string)_reference!,
        Kind.Bytes => Encoding.UTF8.GetString((byte[])_reference!),
        Kind.Int64 => _number.ToString(CultureInfo.InvariantCulture),
        Kind.Double => FormatDouble(BitConverter.Int64BitsToDouble(_number)),
        _ => null,
    };

    /// <summary>The value as bytes (UTF-8 encoded when it is text); null when the value is null.</summary>
    public byte[]? ToBytes() => _kind switch
    {
        Kind.Null => null,
        Kind.Bytes => (byte[])_reference!,
        Kind.String => Encoding.UTF8.GetBytes((string)_reference!),
        _ => Encoding.UTF8.GetBytes(ToString()!),
    };

    public long ToInt64() => _kind switch
    {
        Kind.Int64 => _number,
        Kind.Null => throw new InvalidCastException("A null Redis value cannot be converted to an integer."),
        _ => long.TryParse(ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed)
            ? parsed
            : throw new InvalidCastException("The Redis value is not an integer."),
    };

    public double ToDouble() => _kind switch
    {
        Kind.Double => BitConverter.Int64BitsToDouble(_number),
        Kind.Int64 => _number,
        Kind.Null => throw new InvalidCastException("A null Redis value cannot be converted to a double."),
        _ => RedisResult.ParseDouble(ToString()!),
    };

    /// <summary>Number of bytes this value takes on the wire (without the RESP length prefix).</summary>
    internal int GetByteCount() => _kind switch
    {
        Kind.Null => 0,
        Kind.String => Encoding.UTF8.GetByteCount((string)_reference!),
        Kind.Bytes => ((byte[])_reference!).Length,
        Kind.Int64 => CountDigits(_number),
        _ => Encoding.UTF8.GetByteCount(ToString()!),
    };

    /// <summary>Writes the value's bytes; <paramref name="destination"/> is at least <see cref="GetByteCount"/> long.</summary>
    internal int WriteTo(Span<byte> destination)
    {
        switch (_kind)
        {
            case Kind.Null:
                return 0;
            case Kind.String:
                return Encoding.UTF8.GetBytes((string)_reference!, destination);
            case Kind.Bytes:
                var bytes = (byte[])_reference!;
                bytes.CopyTo(destination);
                return bytes.Length;
            case Kind.Int64:
                Utf8Formatter.TryFormat(_number, destination, out var written);
                return written;
            default:
                return Encoding.UTF8.GetBytes(ToString()!, destination);
        }
    }

    internal static int CountDigits(long value)
    {
        if (value == long.MinValue)
        {
            return 20;
        }
        var sign = value < 0 ? 1 : 0;
        var magnitude = (ulong)Math.Abs(value);
        var digits = 1;
        while (magnitude >= 10)
        {
            magnitude /= 10;
            digits++;
        }
        return digits + sign;
    }

    // Redis spells infinities "inf"/"-inf" (ZADD, ZRANGEBYSCORE accept them); the shortest round-trip form otherwise.
    private static string FormatDouble(double value) => value switch
    {
        double.PositiveInfinity => "+inf",
        double.NegativeInfinity => "-inf",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    public bool Equals(RedisValue other)
    {
        if (_kind == Kind.Null || other._kind == Kind.Null)
        {
            return _kind == other._kind;
        }
        if (_kind == other._kind && _kind is Kind.Int64 or Kind.Double)
        {
            return _number == other._number;
        }
        return ToBytes().AsSpan().SequenceEqual(other.ToBytes());
    }

    public override bool Equals(object? obj) => obj is RedisValue other && Equals(other);

    public override int GetHashCode() => IsNull ? 0 : ToString()!.GetHashCode(StringComparison.Ordinal);

    public static bool operator ==(RedisValue left, RedisValue right) => left.Equals(right);
    public static bool operator !=(RedisValue left, RedisValue right) => !left.Equals(right);
}
