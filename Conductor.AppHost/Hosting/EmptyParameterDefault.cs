using Aspire.Hosting.Publishing;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// An empty default for an optional secret parameter: the manifest says <c>"default": { "value": "" }</c>, so a
/// deployment may leave it unset. Aspire's own constant default is internal, and its public overload refuses a
/// published default on a secret (it would publish the configured value); an empty string has nothing to leak.
/// </summary>
public sealed class EmptyParameterDefault : ParameterDefault
{
    public override void WriteToManifest(ManifestPublishingContext context) => context.Writer.WriteString("value", "");

    public override string GetDefaultValue() => "";
}
