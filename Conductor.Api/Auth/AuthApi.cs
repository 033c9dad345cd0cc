using System.Text.RegularExpressions;
using Conductor.Api.Auth.GitHub;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Conductor.Api.Auth;

public static partial class AuthApi
{
    public const string RateLimitPolicy = "auth";

    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/auth").WithTags("Auth").RequireRateLimiting(RateLimitPolicy);
        group.MapPost("/dev", DevLoginAsync).WithName("DevLogin").AllowAnonymous();
        group.MapPost("/github/device", StartDeviceFlowAsync).WithName("GitHubDeviceFlowStart").AllowAnonymous();
        group.MapPost("/github/poll", PollDeviceFlowAsync).WithName("GitHubDeviceFlowPoll").AllowAnonymous();
        group.MapPost("/github/token", SignInWithGitHubTokenAsync).WithName("GitHubTokenSignIn").AllowAnonymous();
        // Refresh and revoke prove possession of the refresh token itself; the access token may have expired.
        group.MapPost("/refresh", RefreshAsync).WithName("RefreshToken").AllowAnonymous();
        group.MapPost("/revoke", RevokeAsync).WithName("RevokeToken").AllowAnonymous();
        group.MapGet("/me", GetMeAsync).WithName("GetMe");
        // Outside the sign-in rate limit: every (re)connect of every socket asks for one.
        endpoints.MapGroup("/auth").WithTags("Auth").MapPost("/socket-ticket", IssueSocketTicketAsync).WithName("IssueSocketTicket");
        return group;
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> DevLoginAsync(
        DevLoginRequest? request, IOptions<AuthOptions> options, UserStore users, TokenService tokens, CancellationToken cancellationToken)
    {
        if (!options.Value.DevLogin)
        {
            return Problem(StatusCodes.Status404NotFound, "Dev login is disabled",
                "POST /auth/dev works only when Auth:DevLogin is true (the AppHost sets it for local runs). Sign in with GitHub instead.");
        }
        if (request?.Login is not { } login || !LoginPattern().IsMatch(login))
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid login",
                "login must be 1-39 letters, digits or single hyphens, starting with a letter or digit (as GitHub logins are).");
        }
        var user = await users.GetOrCreateByLoginAsync(login, cancellationToken);
        return TypedResults.Ok(TokenResponse.From(await tokens.IssueAsync(user, cancellationToken)));
    }

    internal static async Task<Results<Ok<GitHubDeviceResponse>, ProblemHttpResult>> StartDeviceFlowAsync(
        GitHubClient github, CancellationToken cancellationToken)
    {
        if (!github.DeviceFlowConfigured)
        {
            return DeviceFlowNotConfigured();
        }
        try
        {
            var code = await github.RequestDeviceCodeAsync(cancellationToken);
            return TypedResults.Ok(new GitHubDeviceResponse(code.DeviceCode, code.UserCode, code.VerificationUri, code.Interval, code.ExpiresIn));
        }
        catch (GitHubUnavailableException ex)
        {
            return GitHubUnavailable(ex);
        }
    }

    internal static async Task<Results<Ok<TokenResponse>, Accepted<GitHubPendingResponse>, ProblemHttpResult>> PollDeviceFlowAsync(
        GitHubPollRequest? request, GitHubClient github, GitHubSignIn signIn, CancellationToken cancellationToken)
    {
        if (!github.DeviceFlowConfigured)
        {
            return DeviceFlowNotConfigured();
        }
        if (request?.DeviceCode is not { Length: > 0 and <= 256 } deviceCode)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid device code", "device_code is required (at most 256 characters).");
        }
        try
        {
            var poll = await github.PollDeviceAsync(deviceCode, cancellationToken);
            if (poll.AccessToken is { } accessToken)
            {
                return await signIn.SignInAsync(accessToken, cancellationToken) is { } tokens
                    ? TypedResults.Ok(TokenResponse.From(tokens))
                    : Problem(StatusCodes.Status502BadGateway, "GitHub did not accept its own token", "GET /user refused the token the device flow issued.");
            }
            return poll.Error switch
            {
                // GitHub's documented device-flow errors (docs: "Error codes for the device flow").
                "authorization_pending" => TypedResults.Accepted((string?)null, new GitHubPendingResponse("authorization_pending", poll.Interval ?? 5)),
                "slow_down" => TypedResults.Accepted((string?)null, new GitHubPendingResponse("slow_down", poll.Interval ?? 10)),
                "expired_token" => Problem(StatusCodes.Status400BadRequest, "The device code has expired",
                    "Start again with POST /auth/github/device.", poll.Error),
                "access_denied" => Problem(StatusCodes.Status403Forbidden, "Sign-in was cancelled on GitHub",
                    "The user denied the authorisation request.", poll.Error),
                "incorrect_device_code" => Problem(StatusCodes.Status400BadRequest, "Unknown device code",
                    "GitHub does not know this device code.", poll.Error),
                _ => Problem(StatusCodes.Status502BadGateway, "GitHub refused the sign-in",
                    $"GitHub answered '{poll.Error}'" + (poll.ErrorDescription is { } d ? $": {d}" : "."), poll.Error),
            };
        }
        catch (GitHubUnavailableException ex)
        {
            return GitHubUnavailable(ex);
        }
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> SignInWithGitHubTokenAsync(
        GitHubTokenRequest? request, GitHubSignIn signIn, CancellationToken cancellationToken)
    {
        if (request?.Token is not { Length: > 0 and <= 1024 } token || token.Any(char.IsWhiteSpace))
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid token", "token is required: a GitHub access token without spaces (at most 1024 characters).");
        }
        try
        {
            return await signIn.SignInAsync(token, cancellationToken) is { } tokens
                ? TypedResults.Ok(TokenResponse.From(tokens))
                : Problem(StatusCodes.Status401Unauthorized, "GitHub did not accept the token", "GET /user on GitHub refused it: it is wrong, expired or revoked.");
        }
        catch (GitHubUnavailableException ex)
        {
            return GitHubUnavailable(ex);
        }
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> RefreshAsync(
        RefreshTokenRequest? request, TokenService tokens, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request?.RefreshToken))
        {
            return Problem(StatusCodes.Status400BadRequest, "Missing refresh token", "refresh_token is required.");
        }
        var (issued, failure) = await tokens.RefreshAsync(request.RefreshToken, cancellationToken);
        if (issued is not null)
        {
            return TypedResults.Ok(TokenResponse.From(issued));
        }
        var (title, detail) = failure switch
        {
            RefreshFailure.Expired => ("Refresh token expired", "Sign in again."),
            RefreshFailure.Revoked => ("Refresh token revoked", "The session was signed out. Sign in again."),
            RefreshFailure.Reused => ("Refresh token reuse detected",
                "This refresh token was already used, so it may have been stolen: every token of this session is now revoked. Sign in again."),
            _ => ("Invalid refresh token", "The refresh token is not one this service issued."),
        };
        return Problem(StatusCodes.Status401Unauthorized, title, detail, failure?.ToString().ToLowerInvariant());
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        RefreshTokenRequest? request, TokenService tokens, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request?.RefreshToken))
        {
            return Problem(StatusCodes.Status400BadRequest, "Missing refresh token", "refresh_token is required.");
        }
        try
        {
            // As RFC 7009 has it, an unknown token is not an error: the caller's goal, that it not work, holds.
            await tokens.RevokeAsync(request.RefreshToken, cancellationToken);
        }
        // Unreachable, or commands backlogged until the timeout (RedisTimeoutException is a TimeoutException).
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The refresh tokens are revoked; the access token is refused here but not yet everywhere. A retry repeats it.
            return ApiProblems.Create(StatusCodes.Status503ServiceUnavailable, "Sign-out not yet shared",
                "The session's refresh tokens are revoked, but the other instances could not be told to refuse its access token. Try again.",
                "sign_out_not_shared");
        }
        return TypedResults.NoContent();
    }

    /// <summary>A single-use ticket for the caller's next WebSocket connect (browsers cannot send the token in a header there).</summary>
    internal static async Task<Ok<SocketTicketResponse>> IssueSocketTicketAsync(HttpContext context, SocketTickets tickets)
    {
        var signedIn = await context.AuthenticateAsync();
        var (ticket, lifetime) = tickets.Issue(context.User, signedIn.Properties?.ExpiresUtc);
        return TypedResults.Ok(new SocketTicketResponse(ticket, (int)Math.Ceiling(lifetime.TotalSeconds)));
    }

    internal static async Task<Results<Ok<MeResponse>, ProblemHttpResult>> GetMeAsync(
        HttpContext context, UserStore users, IGitHubTokenStore gitHubTokens, CancellationToken cancellationToken)
    {
        var user = await users.GetAsync(context.User.GetUserId(), cancellationToken);
        if (user is null)
        {
            return Problem(StatusCodes.Status401Unauthorized, "Unknown user", "The token's user no longer exists.");
        }
        var hasToken = await gitHubTokens.GetTokenAsync(user.Id, cancellationToken) is not null;
        return TypedResults.Ok(new MeResponse(user.Id, user.Login, user.GitHubId, hasToken, user.CreatedAt));
    }

    private static ProblemHttpResult DeviceFlowNotConfigured() =>
        Problem(StatusCodes.Status404NotFound, "GitHub device flow is not configured",
            "Set Auth:GitHub:ClientId to the OAuth app's client id to enable it. POST /auth/github/token works without it.");

    private static ProblemHttpResult GitHubUnavailable(GitHubUnavailableException ex) =>
        Problem(StatusCodes.Status502BadGateway, "GitHub is unavailable", ex.Message);

    private static ProblemHttpResult Problem(int status, string title, string detail, string? error = null) =>
        // OAuth's device flow names its errors in an "error" member (RFC 8628), which clients branch on.
        ApiProblems.Create(status, title, detail, extensions: error is null ? null : new Dictionary<string, object?> { ["error"] = error });

    // GitHub's rules for logins: alphanumerics and single hyphens, no leading hyphen, at most 39 characters.
    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$", RegexOptions.CultureInvariant)]
    private static partial Regex LoginPattern();
}
