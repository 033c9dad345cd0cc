using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Conductor.Workspaces;

/// <summary>
/// Cross-process locks as Postgres session advisory locks: the Api's file writes and the GitWorker's commit take
/// the same room lock (no half-staged commit), and every job touching a bare store takes the store's lock. A
/// process that dies releases its locks with its connection, so a kill -9 never leaves one held.
/// </summary>
public sealed class WorkspaceLocks(NpgsqlDataSource dataSource)
{
    public Task<IAsyncDisposable> LockRoomAsync(Guid roomId, CancellationToken cancellationToken) =>
        AcquireAsync($"workspace-room:{roomId:D}", cancellationToken);

    public Task<IAsyncDisposable> LockStoreAsync(string storeId, CancellationToken cancellationToken) =>
        AcquireAsync($"workspace-store:{storeId}", cancellationToken);

    private async Task<IAsyncDisposable> AcquireAsync(string name, CancellationToken cancellationToken)
    {
        var key = BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(name)));
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection) { CommandTimeout = 0 };
            command.Parameters.AddWithValue("key", key);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return new Held(connection, key);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private sealed class Held(NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
                command.Parameters.AddWithValue("key", key);
                await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // The connection broke: the server released the lock with the session.
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
