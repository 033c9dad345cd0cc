using System.Globalization;

/// <summary>The bench's command line: <c>--name value</c> pairs, each with a default (bench/README.md lists them).</summary>
internal sealed record BenchOptions
{
    /// <summary>Closed loop: clients in one room, messages each (the next once its previous came back).</summary>
    public int Clients { get; init; } = 20;
    public int Messages { get; init; } = 50;

    /// <summary>Closed loop: measured rounds per endpoint, alternating bare echo and Api; the medians are compared.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Open loop: rooms of <see cref="RoomSize"/>, plus one room of <see cref="BigRoom"/> (0: none).</summary>
    public int Rooms { get; init; } = 1000;
    public int RoomSize { get; init; } = 5;
    public int BigRoom { get; init; } = 200;

    /// <summary>Seconds between two messages of one client (each client starts at a random phase).</summary>
    public double Interval { get; init; } = 5;
    public double Warmup { get; init; } = 5;
    public double Duration { get; init; } = 30;

    /// <summary>Api processes sharing the Postgres and Redis; a room's members are spread over them.</summary>
    public int Instances { get; init; } = 1;

    /// <summary>The Api to measure (default: the Conductor.Api built beside the bench); lets before/after builds be interleaved.</summary>
    public string? ApiDll { get; init; }

    /// <summary>
    /// Diagnosis only: Postgres without fsync or synchronous commit, which is not how the product runs; the difference
    /// to a normal run is what waiting for the WAL flush costs.
    /// </summary>
    public bool NoFsync { get; init; }

    public bool Closed { get; init; } = true;
    public bool Open { get; init; } = true;

    public int OpenClients => Rooms * RoomSize + BigRoom;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
            double Double() => double.Parse(Value(), CultureInfo.InvariantCulture);
            options = args[i] switch
            {
                "--clients" => options with { Clients = Int() },
                "--messages" => options with { Messages = Int() },
                "--rounds" => options with { Rounds = Math.Max(1, Int()) },
                "--rooms" => options with { Rooms = Int() },
                "--room-size" => options with { RoomSize = Int() },
                "--big-room" => options with { BigRoom = Int() },
                "--interval" => options with { Interval = Double() },
                "--warmup" => options with { Warmup = Double() },
                "--duration" => options with { Duration = Double() },
                "--instances" => options with { Instances = Int() },
                "--api-dll" => options with { ApiDll = Value() },
                "--closed-only" => options with { Open = false },
                "--open-only" => options with { Closed = false },
                "--no-fsync" => options with { NoFsync = true },
                _ => throw new ArgumentException($"Unknown option {args[i]}; see bench/README.md."),
            };
        }
        if (options.Clients < 1 || options.Messages < 1 || options.Rooms < 0 || options.RoomSize < 1 || options.BigRoom < 0
            || options.Interval <= 0 || options.Duration <= 0 || options.Warmup < 0 || options.Instances < 1)
        {
            throw new ArgumentException("Counts and times must be positive.");
        }
        return options;
    }
}
