using System.Security.Cryptography;
using Conductor.Workspaces.Git;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Conductor.Workspaces;

/// <summary>
/// Protects remote tokens at rest with Data Protection. The key ring is private to workspace credentials and lives
/// on the workspace volume (0700), which the Api (it protects what a client sends) and the GitWorker (it
/// unprotects for clone, fetch and push) both mount; the ciphertext lives in Postgres, apart from its keys.
/// </summary>
public sealed class WorkspaceCredentials
{
    private const string Purpose = "Conductor.Workspaces.RemoteToken.v1";
    private readonly WorkspaceOptions _options;
    private readonly WorkspaceRepository _repository;
    private readonly Lock _gate = new();
    private IDataProtector _protector;

    public WorkspaceCredentials(IOptions<WorkspaceOptions> options, WorkspaceRepository repository)
    {
        _options = options.Value;
        _repository = repository;
        _protector = CreateProtector();
    }

    public string Protect(string token) => _protector.Protect(token);

    /// <summary>The room's stored token, or null when the workspace was created without one.</summary>
    public async Task<GitCredential?> GetAsync(Guid roomId, CancellationToken cancellationToken)
    {
        var protectedToken = await _repository.GetProtectedTokenAsync(roomId, cancellationToken).ConfigureAwait(false);
        if (protectedToken is null)
        {
            return null;
        }
        try
        {
            return new GitCredential(_protector.Unprotect(protectedToken));
        }
        catch (CryptographicException)
        {
            // The other service may have created the first key after this one read the ring: read it again, once.
            lock (_gate)
            {
                _protector = CreateProtector();
            }
            return new GitCredential(_protector.Unprotect(protectedToken));
        }
    }

    private IDataProtector CreateProtector()
    {
        Directory.CreateDirectory(_options.KeysPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return DataProtectionProvider.Create(new DirectoryInfo(_options.KeysPath), builder => builder.SetApplicationName("Conductor.Workspaces"))
            .CreateProtector(Purpose);
    }
}
