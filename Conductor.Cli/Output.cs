using System.Text.Json;
using Spectre.Console;

namespace Conductor.Cli;

/// <summary>
/// Where results go: one JSON document (or one per line for streams) on stdout with <c>--json</c>, readable text
/// otherwise; errors go to stderr either way. Progress is shown only to a person at a terminal.
/// </summary>
public sealed class Output(bool json)
{
    private static readonly JsonSerializerOptions Indented = new(ConductorClient.Json) { WriteIndented = true };

    public bool Json { get; } = json;

    public bool Interactive => !Json && !Console.IsOutputRedirected && !Console.IsErrorRedirected;

    /// <summary>The command's result: <paramref name="value"/> as JSON, or <paramref name="text"/> for people.</summary>
    public void Result(object value, Func<string> text)
    {
        if (Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(value, Indented));
        }
        else
        {
            Console.Out.WriteLine(text());
        }
    }

    /// <summary>One event of a stream (chat, watch): a JSON line, or text.</summary>
    public void Line(object value, string text)
    {
        if (Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(value, ConductorClient.Json));
        }
        else
        {
            Console.Out.WriteLine(text);
        }
        Console.Out.Flush();
    }

    public void Info(string text)
    {
        if (!Json)
        {
            Console.Error.WriteLine(text);
        }
    }

    public void Error(CliException error)
    {
        if (Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new { error = error.Message, code = error.Code, exit_code = error.ExitCode, details = error.Details }, Indented));
        }
        Console.Error.WriteLine($"conductor: {error.Message}");
    }

    /// <summary>Runs <paramref name="work"/> under a progress bar fed by its progress callback (none when not interactive).</summary>
    public async Task<T> WithProgressAsync<T>(string title, Func<Action<string, double>?, Task<T>> work)
    {
        if (!Interactive)
        {
            return await work(null);
        }
        T result = default!;
        await AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(title, maxValue: 100);
                result = await work((phase, percent) =>
                {
                    task.Description = $"{title}: {phase}";
                    task.Value = percent;
                });
                task.Value = 100;
            });
        return result;
    }
}
