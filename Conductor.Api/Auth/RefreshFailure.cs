using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Conductor.Api.Auth;

public enum RefreshFailure { Invalid, Expired, Revoked, Reused }
