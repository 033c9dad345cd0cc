namespace Conductor.LocalServers;

/// <summary>A local server could not be provided; the message is one line that says what to do.</summary>
public sealed class ProvisioningException(string message, Exception? inner = null) : Exception(message, inner);
