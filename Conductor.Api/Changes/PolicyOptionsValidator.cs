using System.Text.RegularExpressions;
using Conductor.Workspaces.Search;
using Microsoft.Extensions.Options;

namespace Conductor.Api.Changes;

internal sealed class PolicyOptionsValidator : IValidateOptions<PolicyOptions>
{
    public ValidateOptionsResult Validate(string? name, PolicyOptions options)
    {
        var failures = new List<string>();
        if (!(options.ApplyAllBelow is >= 0 and <= 1 && options.RejectAtOrAbove is >= 0 and <= 1 && options.ApplyAllBelow <= options.RejectAtOrAbove))
        {
            failures.Add("Policy:ApplyAllBelow and Policy:RejectAtOrAbove must be in [0, 1] with ApplyAllBelow <= RejectAtOrAbove.");
        }
        WeightRule[] rules = [options.Deletion, options.Config, options.Ci, options.Infrastructure, options.Lock, options.Secret,
            options.OutsideContext, options.Size, options.Binary];
        if (rules.Any(r => r.Weight is < 0 or > 1))
        {
            failures.Add("Every Policy:<rule>:Weight must be in [0, 1].");
        }
        if (options.Size.MaxChangedLines < 1 || options.Size.MaxFiles < 1)
        {
            failures.Add("Policy:Size:MaxChangedLines and MaxFiles must be positive.");
        }
        foreach (var (rule, patterns) in new[] { ("Config", options.Config.Patterns), ("Ci", options.Ci.Patterns), ("Infrastructure", options.Infrastructure.Patterns),
            ("Lock", options.Lock.Patterns), ("Secret", options.Secret.Patterns), ("Binary", options.Binary.Patterns) })
        {
            foreach (var pattern in patterns ?? [])
            {
                try
                {
                    _ = Glob.Parse(pattern, ignoreCase: true);
                }
                catch (ArgumentException ex)
                {
                    failures.Add($"Policy:{rule}:Patterns: '{pattern}' is not a valid glob ({ex.Message}).");
                }
            }
        }
        foreach (var pattern in options.Secret.ContentPatterns ?? [])
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                failures.Add($"Policy:Secret:ContentPatterns: '{pattern}' is not a valid regular expression ({ex.Message}).");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
