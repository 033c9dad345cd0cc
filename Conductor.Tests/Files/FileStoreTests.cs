using System.Security.Cryptography;
using Conductor.Api.Files;
using Conductor.Tests.Audit;
using Conductor.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Npgsql;
using FileOptions = Conductor.Api.Files.FileOptions;

namespace Conductor.Tests.Files;

/// <summary>The file store against a real Postgres: chunked streaming, dedupe, isolation and collection of unused bytes.</summary>
[Collection(PostgresCollection.Name)]
public sealed class FileStoreTests(PostgresServerFixture postgres)
{
    private static FileStore Store(NpgsqlDataSource dataSource, long max = 1024 * 1024) =>
        new(dataSource, Options.Create(new FileOptions { MaxUploadBytes = max, ChunkBytes = 4096 }), TimeProvider.System);

    private static async Task<(StoredFile File, bool Deduplicated)> UploadAsync(FileStore store, (Guid User, Guid Room) room, byte[] bytes, string name = "a.bin")
    {
        await using var upload = await store.BeginUploadAsync(CancellationToken.None);
        await upload.CopyFromAsync(new MemoryStream(bytes), CancellationToken.None);
        return await upload.CompleteAsync(room.Room, room.User, name, "application/octet-stream", CancellationToken.None);
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string table)
    {
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {table}");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Bytes_are_stored_once_and_read_back_whole_and_by_range()
    {
        await using var dataSource = await AuditLogTests.MigratedAsync(postgres, "files");
        var store = Store(dataSource);
        var bytes = RandomNumberGenerator.GetBytes(10_000); // three chunks, the last partial
        var roomA = await AuditLogTests.SeedRoomAsync(dataSource);
        var roomB = await AuditLogTests.SeedRoomAsync(dataSource);

        var (first, firstDedup) = await UploadAsync(store, roomA, bytes);
        var (again, againDedup) = await UploadAsync(store, roomA, bytes, "renamed.bin");
        var (other, otherDedup) = await UploadAsync(store, roomB, bytes);

        Assert.False(firstDedup);
        Assert.True(againDedup);
        Assert.Equal(first.Id, again.Id);
        Assert.Equal("a.bin", again.Filename);
        Assert.False(otherDedup);
        Assert.NotEqual(first.Id, other.Id);
        Assert.Equal(roomB.Room, other.RoomId);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), first.Sha256);
        Assert.Equal(1, await CountAsync(dataSource, "blobs"));
        Assert.Equal(3, await CountAsync(dataSource, "blob_chunks"));
        Assert.Equal([first.Id], (await store.ListAsync(roomA.Room, CancellationToken.None)).Select(f => f.Id));

        await using var read = store.OpenRead(first);
        var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
        read.Seek(4090, SeekOrigin.Begin);
        var middle = new byte[20];
        var total = 0;
        while (total < middle.Length)
        {
            total += await read.ReadAsync(middle.AsMemory(total));
        }
        Assert.Equal(bytes[4090..4110], middle);

        // The bytes go with the last file that uses them.
        Assert.True(await store.DeleteAsync(first.Id, CancellationToken.None));
        Assert.Equal(1, await CountAsync(dataSource, "blobs"));
        Assert.True(await store.DeleteAsync(other.Id, CancellationToken.None));
        Assert.Equal(0, await CountAsync(dataSource, "blobs"));
        Assert.Equal(0, await CountAsync(dataSource, "blob_chunks"));
    }

    [Fact]
    public async Task One_byte_over_the_limit_stores_nothing()
    {
        await using var dataSource = await AuditLogTests.MigratedAsync(postgres, "files");
        var store = Store(dataSource, max: 10_000);
        await using (var upload = await store.BeginUploadAsync(CancellationToken.None))
        {
            var error = await Assert.ThrowsAsync<FileTooLargeException>(() => upload.CopyFromAsync(new MemoryStream(new byte[10_001]), CancellationToken.None));
            Assert.Equal(10_000, error.Limit);
        }
        Assert.Equal(0, await CountAsync(dataSource, "blob_chunks"));
        var (exact, _) = await UploadAsync(store, await AuditLogTests.SeedRoomAsync(dataSource), new byte[10_000]);
        Assert.Equal(10_000, exact.Size);
        var (empty, _) = await UploadAsync(store, await AuditLogTests.SeedRoomAsync(dataSource), []);
        Assert.Equal(0, empty.Size);
    }

    [Theory]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("C:\\Users\\me\\report.pdf", "report.pdf")]
    [InlineData("..", "file")]
    [InlineData("a\u0000b\u001f.txt", "ab.txt")]
    public void Filenames_lose_directories_and_control_characters(string given, string expected) =>
        Assert.Equal(expected, FilesApi.SanitizeFilename(given));

    [Theory]
    [InlineData("text/plain; charset=utf-8", "text/plain")]
    [InlineData("image/PNG", "image/png")]
    [InlineData("text/html\r\nX-Evil: 1", "application/octet-stream")]
    [InlineData(null, "application/octet-stream")]
    public void Content_types_are_plain_type_and_subtype(string? given, string expected) =>
        Assert.Equal(expected, FilesApi.SanitizeContentType(given));
}
