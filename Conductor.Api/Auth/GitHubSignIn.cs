using Conductor.Api.Auth.GitHub;

namespace Conductor.Api.Auth;

/// <summary>Turns a GitHub access token into a Conductor session: verify it, upsert the user, keep the token.</summary>
public sealed partial class GitHubSignIn(GitHubClient github, UserStore users, GitHubTokenStore gitHubTokens, TokenService tokens, ILogger<GitHubSignIn> logger)
{
    /// <summary>Null when GitHub does not accept the token.</summary>
    public async Task<IssuedTokens?> SignInAsync(string accessToken, CancellationToken cancellationToken)
    {
        var gitHubUser = await github.GetUserAsync(accessToken, cancellationToken);
        if (gitHubUser is null)
        {
            return null;
        }
        var user = await users.UpsertGitHubUserAsync(gitHubUser.Id, gitHubUser.Login, cancellationToken);
        await gitHubTokens.SaveAsync(user.Id, accessToken, gitHubUser.Scopes, cancellationToken);
        LogSignedIn(logger, user.Id, gitHubUser.Login, gitHubUser.Id);
        return await tokens.IssueAsync(user, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} signed in with GitHub as {GitHubLogin} ({GitHubId})")]
    private static partial void LogSignedIn(ILogger logger, Guid userId, string gitHubLogin, long gitHubId);
}
