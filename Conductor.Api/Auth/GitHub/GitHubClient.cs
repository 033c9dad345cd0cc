using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Auth.GitHub;

public sealed record GitHubDeviceCode(
    [property: JsonPropertyName("device_code")] string DeviceCode,
    [property: JsonPropertyName("user_code")] string UserCode,
    [property: JsonPropertyName("verification_uri")] string VerificationUri,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("interval")] int Interval);

/// <summary>GitHub's answer to a device-flow poll: an access token, or one of its documented error codes.</summary>
public sealed record GitHubDevicePoll(string? AccessToken, string? Scope, string? Error, string? ErrorDescription, int? Interval);

public sealed record GitHubUser(long Id, string Login, string? Scopes);

/// <summary>GitHub could not be reached, or answered with something that is not its documented format.</summary>
public sealed class GitHubUnavailableException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>
/// The three GitHub calls sign-in needs. Base URLs come from <see cref="GitHubAuthOptions"/> so GitHub Enterprise
/// (and the tests' fake GitHub) work. Tokens only ever travel in headers and bodies, never in URLs.
/// </summary>
public sealed class GitHubClient(HttpClient http, IOptions<AuthOptions> options)
{
    private GitHubAuthOptions GitHub => options.Value.GitHub;

    public bool DeviceFlowConfigured => !string.IsNullOrWhiteSpace(GitHub.ClientId);

    /// <summary>POST {BaseUrl}/login/device/code.</summary>
    public async Task<GitHubDeviceCode> RequestDeviceCodeAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Combine(GitHub.BaseUrl, "login/device/code"))
        {
            Content = new FormUrlEncodedContent([new("client_id", GitHub.ClientId!), new("scope", GitHub.Scopes)]),
        };
        using var document = await SendForJsonAsync(request, cancellationToken);
        var root = document.RootElement;
        if (GetString(root, "error") is { } error)
        {
            throw new GitHubUnavailableException($"GitHub refused the device-code request: {error} ({GetString(root, "error_description") ?? "no description"}).");
        }
        try
        {
            return root.Deserialize<GitHubDeviceCode>() ?? throw new JsonException("null");
        }
        catch (JsonException ex)
        {
            throw new GitHubUnavailableException("GitHub's device-code response was not in the expected format.", ex);
        }
    }

    /// <summary>POST {BaseUrl}/login/oauth/access_token with the device-code grant.</summary>
    public async Task<GitHubDevicePoll> PollDeviceAsync(string deviceCode, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Combine(GitHub.BaseUrl, "login/oauth/access_token"))
        {
            Content = new FormUrlEncodedContent([
                new("client_id", GitHub.ClientId!),
                new("device_code", deviceCode),
                new("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ]),
        };
        using var document = await SendForJsonAsync(request, cancellationToken);
        var root = document.RootElement;
        int? interval = root.TryGetProperty("interval", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : null;
        if (GetString(root, "access_token") is { Length: > 0 } token)
        {
            return new GitHubDevicePoll(token, GetString(root, "scope"), null, null, interval);
        }
        var error = GetString(root, "error") ?? throw new GitHubUnavailableException("GitHub's token response had neither a token nor an error.");
        return new GitHubDevicePoll(null, null, error, GetString(root, "error_description"), interval);
    }

    /// <summary>GET {ApiUrl}/user with the token; null when GitHub does not accept the token.</summary>
    public async Task<GitHubUser?> GetUserAsync(string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Combine(GitHub.ApiUrl, "user"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        request.Headers.Add("X-GitHub-Api-Version", "2022-11-28");
        using var response = await SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return null;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new GitHubUnavailableException($"GitHub answered GET /user with {(int)response.StatusCode}.");
        }
        using var document = await ReadJsonAsync(response, cancellationToken);
        var root = document.RootElement;
        if (!root.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || GetString(root, "login") is not { Length: > 0 } login)
        {
            throw new GitHubUnavailableException("GitHub's /user response had no id or login.");
        }
        var scopes = response.Headers.TryGetValues("X-OAuth-Scopes", out var values) ? string.Join(",", values) : null;
        return new GitHubUser(id.GetInt64(), login, scopes);
    }

    private async Task<JsonDocument> SendForJsonAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await SendAsync(request, cancellationToken);
        // GitHub answers the OAuth endpoints' errors with 200 and an "error" field; other statuses are outages.
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.BadRequest)
        {
            throw new GitHubUnavailableException($"GitHub answered {request.RequestUri!.AbsolutePath} with {(int)response.StatusCode}.");
        }
        return await ReadJsonAsync(response, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(GitHub.Timeout);
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
        }
        catch (HttpRequestException ex)
        {
            throw new GitHubUnavailableException($"GitHub could not be reached at {request.RequestUri!.GetLeftPart(UriPartial.Authority)}.", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new GitHubUnavailableException($"GitHub did not answer within {GitHub.Timeout.TotalSeconds:0} s.", ex);
        }
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw new GitHubUnavailableException("GitHub's response was not a JSON object.");
            }
            return document;
        }
        catch (JsonException ex)
        {
            throw new GitHubUnavailableException("GitHub's response was not JSON.", ex);
        }
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    // Keeps a base path such as GitHub Enterprise's /api/v3.
    private static Uri Combine(Uri baseUrl, string relative) =>
        new(new Uri(baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl.AbsoluteUri : baseUrl.AbsoluteUri + "/"), relative);
}
