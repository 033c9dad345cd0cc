using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Npgsql;

namespace Conductor.Tests.Files;

[Collection(ConductorApiCollection.Name)]
public sealed class FilesApiTests(ConductorApiFixture fixture)
{
    private static MultipartFormDataContent Form(Guid roomId, byte[] bytes, string name = "notes.txt", string type = "text/plain", bool roomFirst = true)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue(type);
        if (roomFirst)
        {
            form.Add(new StringContent(roomId.ToString()), "room_id");
        }
        form.Add(file, "file", name);
        if (!roomFirst)
        {
            form.Add(new StringContent(roomId.ToString()), "room_id");
        }
        return form;
    }

    private static Task<HttpResponseMessage> UploadAsync(ApiClient client, MultipartFormDataContent form) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/files/upload") { Content = form });

    private async Task<long> CountFilesAsync(Guid roomId)
    {
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM files WHERE room_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = roomId });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Upload_dedupes_within_a_room_and_isolates_rooms()
    {
        var (alice, _, roomA) = await fixture.HostWithRoomAsync("alice");
        var (carol, _, roomC) = await fixture.HostWithRoomAsync("carol");
        var bytes = Encoding.UTF8.GetBytes($"hello {Guid.NewGuid()}\n");
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));

        var first = await ApiClient.ExpectAsync(await UploadAsync(alice, Form(roomA, bytes, "../../secret/notes.txt")), HttpStatusCode.Created);
        var fileId = first.GetProperty("file_id").GetGuid();
        Assert.False(first.GetProperty("deduplicated").GetBoolean());
        Assert.Equal("notes.txt", first.GetProperty("filename").GetString());
        Assert.Equal(bytes.Length, first.GetProperty("size").GetInt64());
        Assert.Equal("text/plain", first.GetProperty("content_type").GetString());
        Assert.Equal(sha, first.GetProperty("sha256").GetString());
        Assert.Equal(4, fileId.Version);

        var again = await ApiClient.ExpectAsync(await UploadAsync(alice, Form(roomA, bytes, "copy.txt", roomFirst: false)), HttpStatusCode.Created);
        Assert.True(again.GetProperty("deduplicated").GetBoolean());
        Assert.Equal(fileId, again.GetProperty("file_id").GetGuid());

        // Same bytes, other room: a new id, and nothing that points at alice's file.
        var other = await ApiClient.ExpectAsync(await UploadAsync(carol, Form(roomC, bytes)), HttpStatusCode.Created);
        Assert.False(other.GetProperty("deduplicated").GetBoolean());
        Assert.NotEqual(fileId, other.GetProperty("file_id").GetGuid());
        await ApiClient.ExpectProblemAsync(await carol.GetAsync($"/files/{fileId}"), HttpStatusCode.NotFound, "File not found");
        await ApiClient.ExpectProblemAsync(await carol.DeleteAsync($"/files/{fileId}"), HttpStatusCode.NotFound);
        var carolsList = await ApiClient.ExpectAsync(await carol.GetAsync($"/rooms/{roomC}/files"), HttpStatusCode.OK);
        Assert.Equal(other.GetProperty("file_id").GetGuid(), Assert.Single(carolsList.GetProperty("files").EnumerateArray()).GetProperty("file_id").GetGuid());
        await ApiClient.ExpectProblemAsync(await carol.GetAsync($"/rooms/{roomA}/files"), HttpStatusCode.Forbidden);
        await ApiClient.ExpectProblemAsync(await UploadAsync(carol, Form(roomA, bytes)), HttpStatusCode.Forbidden);
        // room_id after the file: the bytes are streamed, then refused and rolled back.
        await ApiClient.ExpectProblemAsync(await UploadAsync(carol, Form(roomA, [1, 2, 3], roomFirst: false)), HttpStatusCode.Forbidden);
        Assert.Equal(1, await CountFilesAsync(roomA));

        // Download: attachment, nosniff, and ranges.
        using var download = await alice.GetAsync($"/files/{fileId}");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(bytes, await download.Content.ReadAsByteArrayAsync());
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("notes.txt", download.Content.Headers.ContentDisposition?.FileNameStar ?? download.Content.Headers.ContentDisposition?.FileName);
        Assert.Equal("nosniff", download.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("bytes", download.Headers.AcceptRanges.Single());
        var range = new HttpRequestMessage(HttpMethod.Get, $"/files/{fileId}");
        range.Headers.Range = new RangeHeaderValue(6, 9);
        using var partial = await alice.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(bytes[6..10], await partial.Content.ReadAsByteArrayAsync());
        Assert.Equal(bytes.Length, partial.Content.Headers.ContentRange?.Length);

        // Each upload (the deduplicated one too) was announced in the room's chat as the uploader's file message.
        var history = await ApiClient.ExpectAsync(await alice.GetAsync($"/chat/{roomA}/history"), HttpStatusCode.OK);
        var announced = history.EnumerateArray().Where(m => m.GetProperty("kind").GetString() == "file").ToList();
        Assert.Equal(2, announced.Count);
        Assert.All(announced, m => Assert.Equal(fileId, m.GetProperty("content").GetProperty("file_id").GetGuid()));
        Assert.Equal("notes.txt", announced[0].GetProperty("content").GetProperty("name").GetString());
        Assert.DoesNotContain((await ApiClient.ExpectAsync(await carol.GetAsync($"/chat/{roomC}/history"), HttpStatusCode.OK)).EnumerateArray(),
            m => m.GetProperty("content").TryGetProperty("file_id", out var id) && id.GetGuid() == fileId);

        await ApiClient.ExpectProblemAsync(await alice.GetAsync("/files/not-a-uuid"), HttpStatusCode.NotFound);
        await ApiClient.ExpectProblemAsync(await alice.GetAsync($"/files/{Guid.NewGuid()}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Only_the_uploader_or_the_host_can_delete()
    {
        var (host, _, roomId) = await fixture.HostWithRoomAsync("host");
        var (guest, _) = await fixture.GuestAsync(host, roomId, "guest");
        var (other, _) = await fixture.GuestAsync(host, roomId, "other");
        var hostFile = (await ApiClient.ExpectAsync(await UploadAsync(host, Form(roomId, Encoding.UTF8.GetBytes("h" + Guid.NewGuid()))), HttpStatusCode.Created)).GetProperty("file_id").GetGuid();
        var guestFile = (await ApiClient.ExpectAsync(await UploadAsync(guest, Form(roomId, Encoding.UTF8.GetBytes("g" + Guid.NewGuid()))), HttpStatusCode.Created)).GetProperty("file_id").GetGuid();
        var guestFile2 = (await ApiClient.ExpectAsync(await UploadAsync(guest, Form(roomId, Encoding.UTF8.GetBytes("g2" + Guid.NewGuid()))), HttpStatusCode.Created)).GetProperty("file_id").GetGuid();

        await ApiClient.ExpectProblemAsync(await other.DeleteAsync($"/files/{guestFile}"), HttpStatusCode.Forbidden, "Uploader or host only");
        await ApiClient.ExpectProblemAsync(await guest.DeleteAsync($"/files/{hostFile}"), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.NoContent, (await guest.DeleteAsync($"/files/{guestFile}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await host.DeleteAsync($"/files/{guestFile2}")).StatusCode);
        await ApiClient.ExpectProblemAsync(await guest.GetAsync($"/files/{guestFile}"), HttpStatusCode.NotFound);
        var list = await ApiClient.ExpectAsync(await other.GetAsync($"/rooms/{roomId}/files"), HttpStatusCode.OK);
        Assert.Equal([hostFile], list.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("file_id").GetGuid()));
    }

    [Fact]
    public async Task Bad_uploads_are_problems()
    {
        var (client, _, roomId) = await fixture.HostWithRoomAsync();
        await ApiClient.ExpectProblemAsync(await client.PostAsync("/files/upload", new { room_id = roomId }), HttpStatusCode.UnsupportedMediaType);
        var noFile = new MultipartFormDataContent { { new StringContent(roomId.ToString()), "room_id" } };
        await ApiClient.ExpectProblemAsync(await UploadAsync(client, noFile), HttpStatusCode.BadRequest, "file and room_id are required");
        var badRoom = new MultipartFormDataContent { { new StringContent("nope"), "room_id" } };
        await ApiClient.ExpectProblemAsync(await UploadAsync(client, badRoom), HttpStatusCode.BadRequest, "Invalid room_id");
    }

    [Fact]
    public async Task An_upload_over_20_MB_is_refused_while_it_streams_and_stores_nothing()
    {
        var (_, user, roomId) = await fixture.HostWithRoomAsync();
        // Raw HTTP over a socket: the body is chunked, carries 20 MB + 32 KB of file and is never finished, so a 413
        // can only come back if the server counts while it streams. (The exact 20 MB + 1 byte edge is tested on the store:
        // a multipart reader holds back a boundary's length of bytes until it sees what follows them.)
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(fixture.Url.Host, fixture.Url.Port);
        var stream = tcp.GetStream();
        const string boundary = "conductor-test-boundary";
        var head = $"POST /files/upload HTTP/1.1\r\nHost: {fixture.Url.Authority}\r\nAuthorization: Bearer {user.AccessToken}\r\n"
            + $"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        async Task SendChunkAsync(ReadOnlyMemory<byte> data)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"{data.Length:x}\r\n"));
            await stream.WriteAsync(data);
            await stream.WriteAsync("\r\n"u8.ToArray());
        }
        var sender = Task.Run(async () =>
        {
            try
            {
                await SendChunkAsync(Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Disposition: form-data; name=\"room_id\"\r\n\r\n{roomId}\r\n"
                    + $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"));
                var chunk = new byte[64 * 1024];
                var total = 20L * 1024 * 1024 + 32 * 1024;
                for (long sent = 0; sent < total; sent += chunk.Length)
                {
                    await SendChunkAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, total - sent)));
                }
                // The body stays open: no closing boundary, no final chunk.
            }
            catch (IOException)
            {
                // The server may reset the connection once it has answered.
            }
        });
        var response = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!response.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No answer to the oversized upload (sender {sender.Status} {sender.Exception?.InnerException?.Message}):\n" + string.Join("\n", fixture.Api.Output.Split('\n').TakeLast(30)));
            }
            Assert.NotEqual(0, read);
            response.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        Assert.StartsWith("HTTP/1.1 413", response.ToString(), StringComparison.Ordinal);
        Assert.Contains("application/problem+json", response.ToString(), StringComparison.Ordinal);
        tcp.Close();
        await sender;
        Assert.Equal(0, await CountFilesAsync(roomId));

        // Exactly 20 MB is accepted.
        var (client, _, room2) = await fixture.HostWithRoomAsync();
        var big = RandomNumberGenerator.GetBytes(20 * 1024 * 1024);
        var ok = await ApiClient.ExpectAsync(await UploadAsync(client, Form(room2, big, "big.bin", "application/octet-stream")), HttpStatusCode.Created);
        Assert.Equal(big.Length, ok.GetProperty("size").GetInt64());
    }
}
