namespace Conductor.Cli;

/// <summary>What the CLI's exit status means, for scripts (docs/cli.md lists them).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int Usage = 2;
    public const int NotSignedIn = 3;
    public const int Forbidden = 4;
    public const int NotFound = 5;
    public const int Conflict = 6;
    public const int Unreachable = 7;
    public const int GitFailed = 8;
}
