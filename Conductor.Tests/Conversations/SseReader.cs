using System.Net.Http.Headers;
using System.Text.Json;

namespace Conductor.Tests.Conversations;

/// <summary>One server-sent event as a client sees it.</summary>
public sealed record SseEvent(string? Id, string Type, JsonElement Data)
{
    public int Turn => Data.GetProperty("turn").GetInt32();
}

/// <summary>Reads a text/event-stream response frame by frame, as EventSource does (id, event, data, blank line).</summary>
public sealed class SseReader : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseReader(HttpClient http, HttpResponseMessage response, StreamReader reader) => (_http, _response, _reader) = (http, response, reader);

    public HttpResponseMessage Response => _response;

    public static async Task<SseReader> OpenAsync(Uri baseAddress, string accessToken, string path, string? lastEventId = null)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new SseReader(http, response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next event, or null when the stream ended. Gives up after a minute so a broken test stops by itself.</summary>
    public async Task<SseEvent?> NextAsync()
    {
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        string? id = null, type = null, data = null;
        while (await _reader.ReadLineAsync(giveUp.Token) is { } line)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    return new SseEvent(id, type ?? "message", JsonDocument.Parse(data).RootElement.Clone());
                }
                continue;
            }
            if (line.StartsWith(':'))
            {
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": type = value; break;
                case "data": data = data is null ? value : data + "\n" + value; break;
            }
        }
        return null;
    }

    /// <summary>Reads until an event matches; returns every event read, the match last.</summary>
    public async Task<List<SseEvent>> ReadUntilAsync(Func<SseEvent, bool> match)
    {
        var events = new List<SseEvent>();
        while (await NextAsync() is { } e)
        {
            events.Add(e);
            if (match(e))
            {
                return events;
            }
        }
        throw new InvalidOperationException($"The stream ended before the awaited event; read: {string.Join(", ", events.Select(e => $"{e.Type}#{e.Id}"))}");
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        _http.Dispose();
        await Task.CompletedTask;
    }
}
