namespace Conductor.LocalServers;

/// <summary>
/// How to start a prepared local server: the executable, its arguments (never a secret: argv shows in process
/// listings) and the folder to run it in. The tests' fixtures start it themselves; the AppHost hands it to DCP.
/// </summary>
public sealed record ServerCommand(string FileName, IReadOnlyList<string> Arguments, string WorkingDirectory);
