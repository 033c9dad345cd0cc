using System.Buffers;
using System.Text;
using Conductor.Redis;
using Conductor.Redis.Protocol;

namespace Conductor.Tests.Redis;

public sealed class RespParserTests
{
    /// <summary>Every RESP2 and RESP3 type, with the expected rendering of what the parser returns.</summary>
    public static TheoryData<string, RedisResultType, string> Frames => new()
    {
        { "+OK\r\n", RedisResultType.SimpleString, "OK" },
        { "+\r\n", RedisResultType.SimpleString, "" },
        { "-ERR unknown command 'FOO'\r\n", RedisResultType.Error, "(error) ERR unknown command 'FOO'" },
        { ":0\r\n", RedisResultType.Integer, "0" },
        { ":-9223372036854775808\r\n", RedisResultType.Integer, "-9223372036854775808" },
        { ":9223372036854775807\r\n", RedisResultType.Integer, "9223372036854775807" },
        { "$5\r\nhello\r\n", RedisResultType.BulkString, "hello" },
        { "$0\r\n\r\n", RedisResultType.BulkString, "" },
        { "$4\r\na\r\nb\r\n", RedisResultType.BulkString, "a\r\nb" },
        { "$-1\r\n", RedisResultType.Null, "(nil)" },
        { "*-1\r\n", RedisResultType.Null, "(nil)" },
        { "*0\r\n", RedisResultType.Array, "Array[]" },
        { "*3\r\n:1\r\n$3\r\nfoo\r\n*1\r\n+bar\r\n", RedisResultType.Array, "Array[1, foo, Array[bar]]" },
        { "*2\r\n$-1\r\n*-1\r\n", RedisResultType.Array, "Array[(nil), (nil)]" },
        { "_\r\n", RedisResultType.Null, "(nil)" },
        { "#t\r\n", RedisResultType.Boolean, "true" },
        { "#f\r\n", RedisResultType.Boolean, "false" },
        { ",3.25\r\n", RedisResultType.Double, "3.25" },
        { ",-1.5e3\r\n", RedisResultType.Double, "-1500" },
        { ",inf\r\n", RedisResultType.Double, "inf" },
        { ",-inf\r\n", RedisResultType.Double, "-inf" },
        { ",nan\r\n", RedisResultType.Double, "nan" },
        { "(3492890328409238509324850943850943825024385\r\n", RedisResultType.BigNumber, "3492890328409238509324850943850943825024385" },
        { "(-12\r\n", RedisResultType.BigNumber, "-12" },
        { "!21\r\nSYNTAX invalid syntax\r\n", RedisResultType.Error, "(error) SYNTAX invalid syntax" },
        { "=15\r\ntxt:Some string\r\n", RedisResultType.VerbatimString, "Some string" },
        { "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", RedisResultType.Map, "Map[first, 1, second, 2]" },
        { "~3\r\n+a\r\n+b\r\n:3\r\n", RedisResultType.Set, "Set[a, b, 3]" },
        { ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n", RedisResultType.Push, "Push[message, ch, hello]" },
        { "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n", RedisResultType.Array, "Array[2039123, 9543892]" },
        { "*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nx\r\n#t\r\n", RedisResultType.Array, "Array[x, true]" },
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void Parses_every_type(string frame, RedisResultType type, string rendered)
    {
        var result = ParseWhole(frame);

        Assert.Equal(type, result.Type);
        Assert.Equal(rendered, result.ToString());
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Parses_a_frame_split_at_every_byte_offset(string frame, RedisResultType type, string rendered)
    {
        var bytes = Encoding.UTF8.GetBytes(frame);
        for (var split = 1; split < bytes.Length; split++)
        {
            // Only the first part has arrived: nothing is consumed.
            var partial = new ReadOnlySequence<byte>(bytes, 0, split);
            Assert.False(RespParser.TryRead(ref partial, out _), $"complete after {split} of {bytes.Length} bytes");
            Assert.Equal(split, partial.Length);

            // The rest arrives in a second segment.
            var twoSegments = Segments(bytes[..split], bytes[split..]);
            Assert.True(RespParser.TryRead(ref twoSegments, out var result), $"split at {split}");
            Assert.Equal(type, result.Type);
            Assert.Equal(rendered, result.ToString());
            Assert.True(twoSegments.IsEmpty);
        }
    }

    [Fact]
    public void Parses_a_frame_delivered_one_byte_per_segment()
    {
        var bytes = Encoding.UTF8.GetBytes("*2\r\n%1\r\n+k\r\n$3\r\nval\r\n=8\r\nmkd:**x*\r\n");
        var sequence = Segments(bytes.Select(b => new[] { b }).ToArray());

        Assert.True(RespParser.TryRead(ref sequence, out var result));
        Assert.Equal("Array[Map[k, val], **x*]", result.ToString());
        Assert.Equal("mkd", result.Elements[1].VerbatimFormat);
    }

    [Fact]
    public void Reads_consecutive_frames_and_leaves_a_partial_one()
    {
        var sequence = new ReadOnlySequence<byte>("+OK\r\n:42\r\n$5\r\nhel"u8.ToArray());

        Assert.True(RespParser.TryRead(ref sequence, out var first));
        Assert.True(RespParser.TryRead(ref sequence, out var second));
        Assert.False(RespParser.TryRead(ref sequence, out _));

        Assert.Equal("OK", first.AsString());
        Assert.Equal(42, second.AsInt64());
        Assert.Equal(7, sequence.Length);
    }

    [Fact]
    public void Keeps_binary_payloads_intact()
    {
        byte[] payload = [0, 255, 13, 10, 128, 1];
        var frame = Encoding.ASCII.GetBytes("$6\r\n").Concat(payload).Concat("\r\n"u8.ToArray()).ToArray();
        var sequence = new ReadOnlySequence<byte>(frame);

        Assert.True(RespParser.TryRead(ref sequence, out var result));
        Assert.Equal(payload, result.AsBytes());
    }

    [Fact]
    public void Carries_attributes_on_the_reply_they_describe()
    {
        var result = ParseWhole("|1\r\n+ttl\r\n:3600\r\n+OK\r\n");

        Assert.Equal("OK", result.AsString());
        Assert.NotNull(result.Attributes);
        Assert.Equal("ttl", result.Attributes[0].AsString());
        Assert.Equal(3600, result.Attributes[1].AsInt64());
        Assert.Null(RedisResult.Ok.Attributes); // the shared instance was not changed
    }

    [Fact]
    public void Reads_maps_and_resp2_pair_arrays_the_same_way()
    {
        var map = ParseWhole("%1\r\n$1\r\nf\r\n$1\r\nv\r\n").AsPairs();
        var array = ParseWhole("*2\r\n$1\r\nf\r\n$1\r\nv\r\n").AsPairs();

        Assert.Equal(map.Select(p => (p.Key.AsString(), p.Value.AsString())), array.Select(p => (p.Key.AsString(), p.Value.AsString())));
    }

    public static TheoryData<string, string> MalformedFrames => new()
    {
        { "?what\r\n", "type byte 0x3F" },
        { "\r\n", "type byte 0x0D" },
        { "$abc\r\nxyz\r\n", "bulk string length" },
        { "$\r\n", "bulk string length" },
        { "$+3\r\nfoo\r\n", "bulk string length" },
        { ":12x\r\n", "integer" },
        { ":99999999999999999999\r\n", "integer" },
        { "*1x\r\n", "array length" },
        { "$3\r\nfooXY", "not followed by CRLF" },
        { "$3\r\nfoo\n\n", "not followed by CRLF" },
        { "+OK\n", "LF without the CR" },
        { "+OK\rX", "CR not followed by LF" },
        { ":1\r\r\n", "CR not followed by LF" },
        { "$-2\r\n", "Negative bulk string length -2" },
        { "*-5\r\n", "Negative array length -5" },
        { "%-3\r\n", "Negative map length -3" },
        { "!-7\r\n", "Negative blob error length -7" },
        { "$536870913\r\n", "exceeds the limit" },
        { "$9223372036854775807\r\n", "exceeds the limit" },
        { "*16777217\r\n", "exceeds the limit" },
        { "#x\r\n", "boolean" },
        { "#tt\r\n", "boolean" },
        { ",1.2.3\r\n", "double" },
        { ",\r\n", "double" },
        { "(12a\r\n", "big number" },
        { "_x\r\n", "null" },
        { "=2\r\nab\r\n", "verbatim" },
        { "=5\r\ntxtab\r\n", "verbatim" },
    };

    [Theory]
    [MemberData(nameof(MalformedFrames))]
    public void Rejects_malformed_frames_with_a_clear_protocol_exception(string frame, string expectedMessagePart)
    {
        var exception = Assert.Throws<RedisProtocolException>(() => ParseWhole(frame));

        Assert.Contains(expectedMessagePart, exception.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Rejects_nesting_deeper_than_the_limit()
    {
        var frame = string.Concat(Enumerable.Repeat("*1\r\n", 100)) + ":1\r\n";

        var exception = Assert.Throws<RedisProtocolException>(() => ParseWhole(frame));
        Assert.Contains("nested deeper", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_line_that_never_ends()
    {
        var limits = new RespParserLimits { MaxLineLength = 1024 };
        var sequence = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("+" + new string('a', 2000)));

        Assert.Throws<RedisProtocolException>(() => RespParser.TryRead(ref sequence, out _, limits));
    }

    [Fact]
    public void A_huge_declared_aggregate_waits_for_data_instead_of_allocating()
    {
        // 16 million elements declared (within the limit) but only a few bytes present: incomplete, not an allocation.
        var sequence = new ReadOnlySequence<byte>("*16000000\r\n:1\r\n"u8.ToArray());

        Assert.False(RespParser.TryRead(ref sequence, out _));
    }

    private static RedisResult ParseWhole(string frame)
    {
        var sequence = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(frame));
        Assert.True(RespParser.TryRead(ref sequence, out var result), "frame incomplete");
        Assert.True(sequence.IsEmpty, "bytes left over");
        return result;
    }

    internal static ReadOnlySequence<byte> Segments(params byte[][] parts)
    {
        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
