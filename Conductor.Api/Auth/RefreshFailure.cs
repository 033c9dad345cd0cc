namespace Conductor.Api.Auth;

public enum RefreshFailure { Invalid, Expired, Revoked, Reused }
