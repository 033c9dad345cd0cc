using Conductor.Tests.Infrastructure;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Microsoft.Extensions.DependencyInjection;

namespace Conductor.Tests.Workspaces;

/// <summary>
/// Create-only and conditional delete, checked under the room's lock: what applying AI changes relies on so that a
/// teammate's concurrent edit is never overwritten or deleted unseen.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class ConditionalWriteTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    [Fact]
    public async Task Create_only_and_conditional_delete_refuse_a_file_that_is_not_as_expected()
    {
        await using var env = await WorkspaceTestEnvironment.CreateAsync(postgres, redis);
        await env.StartHostAsync();
        var roomId = await WorkspaceFixtures.CreateReadyWorkspaceAsync(env);
        var files = env.Services.GetRequiredService<WorkspaceFileService>();
        var user = Guid.NewGuid();

        var created = await files.WriteAsync(roomId, "notes.md", "first\n"u8.ToArray(), null, user, CancellationToken.None, ifNoneMatch: "*");
        Assert.True(created.Created);

        // Someone else created it first: create-only refuses, and the file keeps their content.
        var exists = await Assert.ThrowsAsync<WorkspaceException>(() =>
            files.WriteAsync(roomId, "notes.md", "second\n"u8.ToArray(), null, user, CancellationToken.None, ifNoneMatch: "*"));
        Assert.Equal(WorkspaceErrorKind.PreconditionFailed, exists.Kind);
        Assert.Equal("first\n", (await files.ReadAsync(roomId, "notes.md", CancellationToken.None)).Content);

        // Changed since it was read: the delete is refused and the file stays.
        var edited = await files.WriteAsync(roomId, "notes.md", "edited\n"u8.ToArray(), created.Etag, user, CancellationToken.None);
        var stale = await Assert.ThrowsAsync<WorkspaceException>(() =>
            files.DeleteAsync(roomId, "notes.md", user, CancellationToken.None, ifMatch: created.Etag));
        Assert.Equal(WorkspaceErrorKind.PreconditionFailed, stale.Kind);
        Assert.Equal("edited\n", (await files.ReadAsync(roomId, "notes.md", CancellationToken.None)).Content);

        await files.DeleteAsync(roomId, "notes.md", user, CancellationToken.None, ifMatch: edited.Etag);
        var gone = await Assert.ThrowsAsync<WorkspacePathException>(() => files.ReadAsync(roomId, "notes.md", CancellationToken.None));
        Assert.Equal(WorkspaceErrorKind.NotFound, gone.Kind);
    }
}
