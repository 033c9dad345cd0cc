using System.Net;
using System.Net.WebSockets;
using System.Text;
using Conductor.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Conductor.Tests.Web;

/// <summary>
/// Conductor.Web's /api proxy in front of a stand-in upstream on 127.0.0.1 whose behaviour the test controls: a
/// stream that is held open, and a WebSocket. The real Api behind the proxy is covered by the browser tests.
/// </summary>
public sealed class WebProxyTests : IAsyncLifetime
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication _upstream = null!;
    private ServiceInstance _web = null!;
    private Uri _webUrl = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _upstream = builder.Build();
        _upstream.UseWebSockets();
        _upstream.MapGet("/events", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: first\n\n");
            await context.Response.Body.FlushAsync();
            await _release.Task.WaitAsync(context.RequestAborted); // held open until the test has seen the first event
            await context.Response.WriteAsync("data: second\n\n");
        });
        _upstream.Map("/echo", async (HttpContext context) =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024];
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
            await socket.SendAsync(buffer.AsMemory(0, received.Count), WebSocketMessageType.Text, true, CancellationToken.None);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        });
        _upstream.MapGet("/whoami", (HttpContext context) => $"{context.Request.Path}{context.Request.QueryString}");
        await _upstream.StartAsync();
        _webUrl = new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}");
        _web = await WebAppFixture.StartWebAsync(_webUrl, new Uri(_upstream.Urls.First()));
    }

    [Fact]
    public async Task Api_paths_lose_the_api_prefix_and_keep_their_query()
    {
        using var http = new HttpClient { BaseAddress = _webUrl };
        Assert.Equal("/whoami?x=1&y=%2B", await http.GetStringAsync("/api/whoami?x=1&y=%2B"));
    }

    [Fact]
    public async Task Server_sent_events_reach_the_browser_as_they_are_written_not_when_the_stream_ends()
    {
        using var http = new HttpClient { BaseAddress = _webUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        // The upstream has not finished (it waits for the release): the first event must already be here. A buffering
        // proxy would deliver nothing until the end, which never comes: the bound turns that hang into a failure.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Equal("data: first", await reader.ReadLineAsync(bound.Token));
        _release.SetResult();
        Assert.Equal("", await reader.ReadLineAsync());
        Assert.Equal("data: second", await reader.ReadLineAsync());
    }

    [Fact]
    public async Task WebSocket_upgrades_are_forwarded()
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{_webUrl.Authority}/api/echo"), CancellationToken.None);
        await socket.SendAsync("ping through the proxy"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[1024];
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("ping through the proxy", Encoding.UTF8.GetString(buffer, 0, received.Count));
    }

    [Fact]
    public async Task An_unreachable_Api_is_a_502_the_app_recognises()
    {
        var url = new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}");
        await using var web = await WebAppFixture.StartWebAsync(url, new Uri($"http://127.0.0.1:{WebAppFixture.FreePort()}"));
        using var http = new HttpClient { BaseAddress = url };
        using var response = await http.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        if (_web is not null)
        {
            await _web.DisposeAsync();
        }
        await _upstream.StopAsync();
        await _upstream.DisposeAsync();
    }
}
