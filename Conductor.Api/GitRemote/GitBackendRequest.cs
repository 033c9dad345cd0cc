namespace Conductor.Api.GitRemote;

/// <summary>What one CGI run of <c>git http-backend</c> is given: never a credential (the Api has checked it already).</summary>
public sealed record GitBackendRequest(
    string ProjectRoot,
    string PathInfo,
    string Method,
    string QueryString,
    string? ContentType,
    string? ContentEncoding,
    string? GitProtocol,
    string RemoteUser,
    string? RemoteAddress,
    IReadOnlyList<KeyValuePair<string, string>> Config,
    byte[] BodyPrefix,
    Stream? Body);
