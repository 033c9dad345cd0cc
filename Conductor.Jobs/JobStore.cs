using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Conductor.Jobs;

/// <summary>What <see cref="JobStore.TryClaimAsync"/> found.</summary>
internal enum ClaimOutcome
{
    /// <summary>The job is this worker's now (status running, attempts + 1, a fresh lease).</summary>
    Claimed,
    /// <summary>No such job (deleted, or a stream from another database): nothing to do.</summary>
    Missing,
    /// <summary>Succeeded, failed or dead already: a duplicate delivery.</summary>
    AlreadyFinished,
    /// <summary>Another worker runs it and its lease is current: its own stream entry covers it.</summary>
    HeldElsewhere,
    /// <summary>Waiting for its retry time.</summary>
    NotDue,
    /// <summary>Another job with the same concurrency key is running.</summary>
    KeyBusy,
    /// <summary>A worker died during its last allowed attempt: now dead.</summary>
    Exhausted,
}

internal sealed record ClaimResult(ClaimOutcome Outcome, JobRecord? Job);

/// <summary>A job the recovery sweep should send again.</summary>
internal sealed record RecoverableJob(Guid Id, JobStatus Status, DateTimeOffset? NextAttemptAt);

/// <summary>
/// The jobs table. Every state change is a conditional UPDATE (on status and owner), so duplicate deliveries and
/// racing workers cannot move a job backwards or run it twice at once.
/// </summary>
internal sealed class JobStore(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "id, room_id, kind, payload::text, status, attempts, max_attempts, concurrency_key, created_at, updated_at, " +
        "started_at, finished_at, next_attempt_at, error, result::text, locked_by, lease_expires_at";

    public async Task InsertAsync(JobRecord job, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO jobs (id, room_id, kind, payload, status, attempts, max_attempts, concurrency_key, created_at, updated_at, dispatched_at)
            VALUES (@id, @room_id, @kind, @payload, @status, 0, @max_attempts, @concurrency_key, @now, @now, @now)
            """);
        command.Parameters.AddWithValue("id", job.Id);
        command.Parameters.AddWithValue("room_id", job.RoomId);
        command.Parameters.AddWithValue("kind", job.Kind);
        command.Parameters.AddWithValue("payload", NpgsqlDbType.Jsonb, job.Payload.GetRawText());
        command.Parameters.AddWithValue("status", job.Status.ToName());
        command.Parameters.AddWithValue("max_attempts", job.MaxAttempts);
        command.Parameters.AddWithValue("concurrency_key", (object?)job.ConcurrencyKey ?? DBNull.Value);
        command.Parameters.AddWithValue("now", job.CreatedAt);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<JobRecord?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM jobs WHERE id = @id");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>
    /// Takes the job for <paramref name="workerId"/> if it is due and nothing else holds it or its concurrency key.
    /// The row lock (FOR UPDATE) serialises claims of one job; the unique index on running concurrency keys
    /// serialises claims of different jobs with one key.
    /// </summary>
    public async Task<ClaimResult> TryClaimAsync(Guid id, string workerId, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        JobRecord? job;
        await using (var select = new NpgsqlCommand($"SELECT {Columns} FROM jobs WHERE id = @id FOR UPDATE", connection, transaction))
        {
            select.Parameters.AddWithValue("id", id);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            job = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
        }

        if (job is null)
        {
            return new ClaimResult(ClaimOutcome.Missing, null);
        }
        if (job.Status.IsFinal())
        {
            return new ClaimResult(ClaimOutcome.AlreadyFinished, job);
        }
        if (job.Status == JobStatus.Running && job.LeaseExpiresAt > now)
        {
            return new ClaimResult(ClaimOutcome.HeldElsewhere, job);
        }
        if (job.Status == JobStatus.Queued && job.NextAttemptAt > now)
        {
            return new ClaimResult(ClaimOutcome.NotDue, job);
        }
        if (job.Attempts >= job.MaxAttempts)
        {
            // Only reachable for a running job whose worker vanished: a failed attempt that exhausts the budget
            // is marked dead when it is recorded.
            var dead = await UpdateAsync(connection, transaction, """
                UPDATE jobs SET status = 'dead', finished_at = @now, updated_at = @now, lease_expires_at = NULL,
                       error = coalesce(error || E'\n', '') || @error
                WHERE id = @id
                """, id, now, ("error", $"The worker {job.LockedBy} stopped during attempt {job.Attempts} of {job.MaxAttempts}."), cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new ClaimResult(ClaimOutcome.Exhausted, dead);
        }

        if (job.ConcurrencyKey is not null)
        {
            // A worker that died holding the key frees it when its lease expires: its job goes back to the queue
            // (its own pending stream entry, or the sweep, brings it back).
            await using (var release = new NpgsqlCommand("""
                UPDATE jobs SET status = 'queued', lease_expires_at = NULL, next_attempt_at = NULL, updated_at = @now
                WHERE concurrency_key = @key AND status = 'running' AND lease_expires_at <= @now AND id <> @id
                """, connection, transaction))
            {
                release.Parameters.AddWithValue("key", job.ConcurrencyKey);
                release.Parameters.AddWithValue("now", now);
                release.Parameters.AddWithValue("id", id);
                await release.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await using var busy = new NpgsqlCommand(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE concurrency_key = @key AND status = 'running' AND id <> @id)", connection, transaction);
            busy.Parameters.AddWithValue("key", job.ConcurrencyKey);
            busy.Parameters.AddWithValue("id", id);
            if ((bool)(await busy.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return new ClaimResult(ClaimOutcome.KeyBusy, job);
            }
        }

        try
        {
            await using var claim = new NpgsqlCommand($"""
                UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = @now, updated_at = @now,
                       next_attempt_at = NULL, locked_by = @worker, lease_expires_at = @lease_expires_at
                WHERE id = @id
                RETURNING {Columns}
                """, connection, transaction);
            claim.Parameters.AddWithValue("id", id);
            claim.Parameters.AddWithValue("now", now);
            claim.Parameters.AddWithValue("worker", workerId);
            claim.Parameters.AddWithValue("lease_expires_at", now + lease);
            JobRecord claimed;
            await using (var reader = await claim.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                claimed = Read(reader);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new ClaimResult(ClaimOutcome.Claimed, claimed);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.ConstraintName == "jobs_one_running_per_key")
        {
            // Another worker claimed a job with the same key between our check and our update.
            await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            return new ClaimResult(ClaimOutcome.KeyBusy, job);
        }
    }

    /// <summary>Extends the lease of a job this worker still owns; false when it lost it.</summary>
    public async Task<bool> RenewLeaseAsync(Guid id, string workerId, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE jobs SET lease_expires_at = @lease_expires_at, updated_at = @now
            WHERE id = @id AND status = 'running' AND locked_by = @worker
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("worker", workerId);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("lease_expires_at", now + lease);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Records success; null when this worker no longer owned the job.</summary>
    public async Task<JobRecord?> CompleteAsync(Guid id, string workerId, JsonElement? result, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            UPDATE jobs SET status = 'succeeded', result = @result, finished_at = @now, updated_at = @now, lease_expires_at = NULL, error = NULL
            WHERE id = @id AND status = 'running' AND locked_by = @worker
            RETURNING {Columns}
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("worker", workerId);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("result", NpgsqlDbType.Jsonb, (object?)result?.GetRawText() ?? DBNull.Value);
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records a failed attempt: back to queued until <c>retryAt</c> while attempts remain, dead after the last,
    /// failed at once when <paramref name="permanent"/>. Null when this worker no longer owned the job.
    /// </summary>
    public async Task<JobRecord?> FailAsync(Guid id, string workerId, string error, bool permanent, DateTimeOffset retryAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH outcome AS (
                SELECT id, CASE WHEN @permanent THEN 'failed' WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END AS status
                FROM jobs WHERE id = @id AND status = 'running' AND locked_by = @worker
                FOR UPDATE
            )
            UPDATE jobs SET status = outcome.status, error = @error, updated_at = @now, lease_expires_at = NULL,
                   next_attempt_at = CASE WHEN outcome.status = 'queued' THEN @retry_at END,
                   finished_at = CASE WHEN outcome.status = 'queued' THEN NULL ELSE @now END,
                   dispatched_at = @now
            FROM outcome WHERE jobs.id = outcome.id
            RETURNING {Prefixed("jobs.")}
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("worker", workerId);
        command.Parameters.AddWithValue("permanent", permanent);
        command.Parameters.AddWithValue("error", error);
        command.Parameters.AddWithValue("retry_at", retryAt);
        command.Parameters.AddWithValue("now", now);
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task MarkDispatchedAsync(IReadOnlyCollection<Guid> ids, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return;
        }
        await using var command = dataSource.CreateCommand("UPDATE jobs SET dispatched_at = @now WHERE id = ANY(@ids)");
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Jobs Postgres says should be somewhere in Redis: queued, or running with an expired lease. With
    /// <paramref name="dispatchedBefore"/> only those not sent since then (a periodic sweep); without, all of
    /// them (Redis was found empty).
    /// </summary>
    public async Task<IReadOnlyList<RecoverableJob>> FindRecoverableAsync(DateTimeOffset now, DateTimeOffset? dispatchedBefore, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, status, next_attempt_at FROM jobs
            WHERE (status = 'queued' OR (status = 'running' AND lease_expires_at <= @now))
              AND (@dispatched_before::timestamptz IS NULL OR dispatched_at IS NULL OR dispatched_at <= @dispatched_before)
            ORDER BY created_at
            LIMIT @limit
            """);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.Add(new NpgsqlParameter("dispatched_before", NpgsqlDbType.TimestampTz) { Value = (object?)dispatchedBefore ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var jobs = new List<RecoverableJob>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            jobs.Add(new RecoverableJob(reader.GetGuid(0), JobStatusNames.Parse(reader.GetString(1)),
                reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2)));
        }
        return jobs;
    }

    private static string Prefixed(string prefix) =>
        string.Join(", ", Columns.Split(", ").Select(c => prefix + c));

    private static async Task<JobRecord?> UpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, Guid id,
        DateTimeOffset now, (string Name, object Value) extra, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"{sql} RETURNING {Columns}", connection, transaction);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue(extra.Name, extra.Value);
        return await ReadOneAsync(command, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<JobRecord?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    private static JobRecord Read(NpgsqlDataReader reader)
    {
        DateTimeOffset? Time(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
        string? Text(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
        return new JobRecord(
            Id: reader.GetGuid(0),
            RoomId: reader.GetGuid(1),
            Kind: reader.GetString(2),
            Payload: ParseJson(reader.GetString(3)),
            Status: JobStatusNames.Parse(reader.GetString(4)),
            Attempts: reader.GetInt32(5),
            MaxAttempts: reader.GetInt32(6),
            ConcurrencyKey: Text(7),
            CreatedAt: reader.GetFieldValue<DateTimeOffset>(8),
            UpdatedAt: reader.GetFieldValue<DateTimeOffset>(9),
            StartedAt: Time(10),
            FinishedAt: Time(11),
            NextAttemptAt: Time(12),
            Error: Text(13),
            Result: Text(14) is { } result ? ParseJson(result) : null,
            LockedBy: Text(15),
            LeaseExpiresAt: Time(16));
    }

    private static JsonElement ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
