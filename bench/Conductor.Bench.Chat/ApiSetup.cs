using System.Net.Http.Json;
using System.Text.Json;

/// <summary>Users and rooms made through the Api itself (dev sign-in, rooms, one invite per room, joins), as clients do.</summary>
internal static class ApiSetup
{
    private const int Parallelism = 16;

    public static async Task<string[]> CreateUsersAsync(Uri api, int count, string prefix, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        var tokens = new string[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            using var login = await http.PostAsJsonAsync("/auth/dev", new { login = $"{prefix}{i}" }, ct);
            login.EnsureSuccessStatusCode();
            tokens[i] = (await login.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("access_token").GetString()!;
        });
        return tokens;
    }

    /// <summary>The first token's user creates each room and invites the rest; returns the room ids.</summary>
    public static async Task<Guid[]> CreateRoomsAsync(Uri api, IReadOnlyList<IReadOnlyList<string>> rooms, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        var ids = new Guid[rooms.Count];
        await Parallel.ForAsync(0, rooms.Count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (r, ct) =>
        {
            var members = rooms[r];
            using var create = Request(HttpMethod.Post, "/rooms", members[0], new { name = $"bench {r}" });
            using var created = await http.SendAsync(create, ct);
            created.EnsureSuccessStatusCode();
            var roomId = (await created.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("room_id").GetGuid();
            if (members.Count > 1)
            {
                using var inviteRequest = Request(HttpMethod.Post, $"/rooms/{roomId}/invites", members[0], new { });
                using var invite = await http.SendAsync(inviteRequest, ct);
                invite.EnsureSuccessStatusCode();
                var inviteToken = (await invite.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("token").GetString();
                foreach (var guest in members.Skip(1))
                {
                    using var joinRequest = Request(HttpMethod.Post, "/rooms/join", guest, new { token = inviteToken });
                    using var joined = await http.SendAsync(joinRequest, ct);
                    joined.EnsureSuccessStatusCode();
                }
            }
            ids[r] = roomId;
        });
        return ids;
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string token, object body)
    {
        var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new("Bearer", token);
        return request;
    }
}
