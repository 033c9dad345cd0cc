using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conductor.Jobs;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Jobs;

/// <summary>
/// The real services as processes: the GitWorker with the <c>diagnostic.*</c> kinds switched on through
/// configuration (<c>Jobs__DiagnosticKinds=true</c>), and the Api.
/// </summary>
[Collection(InfrastructureCollection.Name)]
public sealed class WorkerProcessTests(PostgresServerFixture postgres, RedisServerFixture redis)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_job_held_by_a_killed_worker_process_is_reclaimed_and_finished_once_by_another()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        environment.Overrides["Jobs:DiagnosticKinds"] = "true";
        await using var producer = await JobTestHost.StartAsync(environment, worker: false);
        var roomId = Guid.NewGuid();
        await using var events = await RoomEvents.SubscribeAsync(producer.Services, roomId);

        var first = ServiceInstance.Start("Conductor.GitWorker", environment.ProcessEnvironment());
        ServiceInstance? second = null;
        try
        {
            await first.WaitUntilListeningAsync(StartTimeout);
            var job = await producer.Queue.EnqueueAsync(roomId, "diagnostic.sleep", new { milliseconds = 3000 }, $"workspace:{roomId}", CancellationToken.None);
            var running = await environment.WaitForAsync(producer.Queue, job.Id, j => j.Status == JobStatus.Running, TimeSpan.FromSeconds(30));
            var killedWorker = running.LockedBy!;
            // Kill it mid-handler: after the handler's first progress event, long before its 3 s sleep ends.
            await events.WaitForAsync(e => e.Events.Any(ev => ev.TryGetProperty("message", out var m) && m.GetString() == $"sleeping on {killedWorker}"), TimeSpan.FromSeconds(10));

            await first.KillAsync();
            Assert.True(first.HasExited);

            second = ServiceInstance.Start("Conductor.GitWorker", environment.ProcessEnvironment());
            await second.WaitUntilListeningAsync(StartTimeout);
            var done = await environment.WaitForAsync(producer.Queue, job.Id, j => j.Status.IsFinal(), TimeSpan.FromSeconds(45));

            Assert.Equal(JobStatus.Succeeded, done.Status);
            Assert.Equal(2, done.Attempts);
            var finisher = done.Result!.Value.GetProperty("worker").GetString();
            Assert.NotEqual(killedWorker, finisher);
            Assert.Equal(2, done.Result.Value.GetProperty("attempt").GetInt32());
            Assert.Contains($"Re-claimed", second.Output, StringComparison.Ordinal);

            // Exactly once to completion: one success event, one start per attempt, and nothing left pending.
            await events.WaitForAsync(e => e.Statuses(job.Id).Contains("succeeded"), TimeSpan.FromSeconds(10));
            await Task.Delay(500);
            var forJob = events.Events.Where(e => e.GetProperty("job_id").GetGuid() == job.Id).ToList();
            Assert.Single(forJob, e => e.GetProperty("status").GetString() == "succeeded");
            var starts = forJob.Where(e => e.TryGetProperty("message", out var m) && m.GetString()!.StartsWith("attempt ", StringComparison.Ordinal))
                .Select(e => e.GetProperty("message").GetString()).ToList();
            Assert.Equal(["attempt 1 of 3", "attempt 2 of 3"], starts);
            await JobQueueTests.WaitUntilAsync(async () =>
                (await producer.Redis.GetDatabase().StreamPendingAsync(environment.StreamName, environment.GroupName)).PendingMessageCount == 0, TimeSpan.FromSeconds(15), environment);
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task The_api_reports_a_job_status_to_room_members_as_snake_case_json_and_answers_outsiders_as_if_the_job_did_not_exist()
    {
        var environment = await JobTestEnvironment.CreateAsync(postgres, redis);
        await using var producer = await JobTestHost.StartAsync(environment, worker: false);
        var apiEnvironment = environment.ProcessEnvironment();
        apiEnvironment["Auth__DevLogin"] = "true";
        await using var api = ServiceInstance.Start("Conductor.Api", apiEnvironment);
        var baseAddress = await api.WaitUntilListeningAsync(StartTimeout);

        // Jobs belong to rooms: only a signed-in member of the job's room may follow it.
        using var member = new ApiClient(baseAddress);
        using var outsider = new ApiClient(baseAddress);
        member.Authorize((await member.DevLoginAsync("job-member")).AccessToken);
        outsider.Authorize((await outsider.DevLoginAsync("job-outsider")).AccessToken);
        var room = await ApiClient.ExpectAsync(await member.PostAsync("/rooms", new { name = "jobs" }), HttpStatusCode.Created);
        var roomId = room.GetProperty("room_id").GetGuid();
        var job = await producer.Queue.EnqueueAsync(roomId, "test.nobody-runs-this", new { path = "src" }, "workspace:x", CancellationToken.None);

        using (var anonymous = new HttpClient { BaseAddress = baseAddress })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/jobs/{job.Id}")).StatusCode);
        }
        // A job of another room answers exactly as a missing job: its id is not confirmed.
        var notYours = await ApiClient.ExpectProblemAsync(await outsider.GetAsync($"/jobs/{job.Id}"), HttpStatusCode.NotFound, "Job not found");
        Assert.Equal("not_found", notYours.GetProperty("code").GetString());

        var http = member;
        using var found = await http.GetAsync($"/jobs/{job.Id}");
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        var body = await found.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(job.Id, body.GetProperty("id").GetGuid());
        Assert.Equal(job.RoomId, body.GetProperty("room_id").GetGuid());
        Assert.Equal("queued", body.GetProperty("status").GetString());
        Assert.Equal(0, body.GetProperty("attempts").GetInt32());
        Assert.Equal(3, body.GetProperty("max_attempts").GetInt32());
        Assert.Equal("workspace:x", body.GetProperty("concurrency_key").GetString());
        Assert.True(body.TryGetProperty("created_at", out _));
        Assert.True(body.TryGetProperty("next_attempt_at", out _));

        using var missing = await http.GetAsync($"/jobs/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        var missingProblem = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(404, missingProblem.GetProperty("status").GetInt32());
        Assert.Equal(notYours.GetProperty("title").GetString(), missingProblem.GetProperty("title").GetString());
        Assert.Equal(notYours.GetProperty("code").GetString(), missingProblem.GetProperty("code").GetString());

        using var malformed = await http.GetAsync("/jobs/not-a-uuid");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal("application/problem+json", malformed.Content.Headers.ContentType?.MediaType);
        var malformedProblem = await malformed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("not a UUID", malformedProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("malformed_id", malformedProblem.GetProperty("code").GetString());
    }
}
