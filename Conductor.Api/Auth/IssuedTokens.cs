using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Conductor.Api.Auth;

/// <summary>An access token (Data Protection protected, accepted by every instance) and its refresh token.</summary>
public sealed record IssuedTokens(string AccessToken, string RefreshToken, TimeSpan AccessTokenLifetime, UserRecord User);
