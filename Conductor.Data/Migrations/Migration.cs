using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Conductor.Data.Migrations;

/// <summary>One versioned SQL file, <c>NNNN_description.sql</c>.</summary>
public sealed record Migration(int Version, string Name, string FileName, string Sql)
{
    /// <summary>SHA-256 of the script (hex), with line endings normalised so a CRLF checkout is not "drift".</summary>
    public string Checksum { get; } = ComputeChecksum(Sql);

    public static string ComputeChecksum(string sql)
    {
        var normalised = sql.ReplaceLineEndings("\n");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
    }

    /// <summary>Parses <c>0007_add_files.sql</c> into version 7, name <c>add_files</c>.</summary>
    public static Migration FromFile(string fileName, string sql)
    {
        var match = MigrationFileName.Pattern().Match(fileName);
        if (!match.Success)
        {
            throw new MigrationException(fileName, $"Migration file name '{fileName}' does not follow NNNN_description.sql.");
        }
        var version = int.Parse(match.Groups["version"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
        return new Migration(version, match.Groups["name"].Value, fileName, sql);
    }
}

internal static partial class MigrationFileName
{
    [GeneratedRegex(@"^(?<version>\d{4})_(?<name>[a-z0-9_]+)\.sql$", RegexOptions.CultureInvariant)]
    public static partial Regex Pattern();
}

/// <summary>Where the runner gets its scripts: the embedded files in production, a list in tests.</summary>
public interface IMigrationSource
{
    IReadOnlyList<Migration> GetMigrations();
}

/// <summary>The <c>Migrations/*.sql</c> files embedded in an assembly (Conductor.Data by default).</summary>
public sealed class EmbeddedMigrationSource(System.Reflection.Assembly? assembly = null) : IMigrationSource
{
    private readonly System.Reflection.Assembly _assembly = assembly ?? typeof(EmbeddedMigrationSource).Assembly;

    public IReadOnlyList<Migration> GetMigrations()
    {
        // Embedded names look like "Conductor.Data.Migrations.0001_initial.sql".
        const string marker = ".Migrations.";
        var migrations = new List<Migration>();
        foreach (var resource in _assembly.GetManifestResourceNames())
        {
            var index = resource.IndexOf(marker, StringComparison.Ordinal);
            if (index < 0 || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }
            using var stream = _assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded resource {resource} could not be opened.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(Migration.FromFile(resource[(index + marker.Length)..], reader.ReadToEnd()));
        }
        return MigrationList.Validate(migrations);
    }
}

/// <summary>A fixed list, for tests and tools.</summary>
public sealed class StaticMigrationSource(IEnumerable<Migration> migrations) : IMigrationSource
{
    private readonly IReadOnlyList<Migration> _migrations = MigrationList.Validate(migrations);

    public IReadOnlyList<Migration> GetMigrations() => _migrations;
}

internal static class MigrationList
{
    public static IReadOnlyList<Migration> Validate(IEnumerable<Migration> migrations)
    {
        var ordered = migrations.OrderBy(m => m.Version).ToList();
        var duplicate = ordered.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            // Two files with one version would apply in an arbitrary order on different machines.
            throw new MigrationException(duplicate.First().FileName,
                $"Migrations {string.Join(" and ", duplicate.Select(m => m.FileName))} share version {duplicate.Key}.");
        }
        return ordered;
    }
}

/// <summary>A migration that could not be applied or verified; the message names the file.</summary>
public sealed class MigrationException(string fileName, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    public string FileName { get; } = fileName;
}
