using System.Text;
using System.Text.Json;
using Conductor.Api.Ai;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace Conductor.Api.Changes;

/// <summary>
/// Asks a provider for changes as JSON that matches <see cref="Schema"/> (enforced by the provider where it can, and
/// always checked here), and retries once, telling the model what was wrong, before it gives up.
/// </summary>
public sealed partial class ChangeGenerator(ILogger<ChangeGenerator> logger)
{
    public const string LlmAgent = "llm-v1";
    public const string MockAgent = "mock-v1";
    public const int MaxChanges = 50;
    private const int MaxOutputChars = 4 * 1024 * 1024;
    private const int Attempts = 2;

    public static readonly JsonElement Schema = JsonDocument.Parse("""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["changes"],
          "properties": {
            "changes": {
              "type": "array",
              "maxItems": 50,
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["file_path", "type", "content", "rationale"],
                "properties": {
                  "file_path": { "type": "string", "description": "Path relative to the repository root, '/'-separated." },
                  "type": { "type": "string", "enum": ["create", "modify", "delete"] },
                  "content": { "type": ["string", "null"], "description": "The whole new file content; null for delete." },
                  "rationale": { "type": "string", "description": "Why this change, in one or two sentences." }
                }
              }
            }
          }
        }
        """).RootElement.Clone();

    private static readonly AiJsonSchema ChangesSchema = new("conductor_changes", "Proposed file changes", Schema);

    /// <summary>
    /// Runs the agent for <paramref name="provider"/>. <paramref name="check"/> validates proposed changes against the
    /// workspace and returns what is wrong (nothing: valid); it runs on every attempt.
    /// </summary>
    public async Task<(string Agent, IReadOnlyList<ProposedChange> Changes)> GenerateAsync(AiProvider provider, string instruction,
        IReadOnlyList<ContextFile> files, Func<IReadOnlyList<ProposedChange>, CancellationToken, Task<IReadOnlyList<string>>> check,
        CancellationToken cancellationToken)
    {
        if (provider.Kind == AiProviderKinds.Mock)
        {
            var changes = Mock(instruction, files);
            var problems = await check(changes, cancellationToken);
            return problems.Count == 0 ? (MockAgent, changes) : throw new ChangeGenerationException(provider.Name, problems);
        }

        var messages = new ChatHistory();
        messages.AddSystemMessage(SystemPrompt);
        messages.AddUserMessage(UserPrompt(instruction, files));
        // The connector's JSON-schema response format (strict on OpenAI); the answer is checked here regardless.
        var settings = provider.CreateSettings(maxOutputTokens: null, temperature: 0, schema: ChangesSchema);
        IReadOnlyList<string> errors = [];
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            string text;
            try
            {
                text = await CollectAsync(provider.ChatCompletion, messages, settings, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                errors = [AiProviderCatalog.Describe(ex)];
                Log.AttemptFailed(logger, provider.Name, attempt, errors[0]);
                continue;
            }
            var (parsed, parseErrors) = Parse(text);
            errors = parsed is null ? parseErrors : await check(parsed, cancellationToken);
            if (errors.Count == 0)
            {
                return (LlmAgent, parsed!);
            }
            Log.AttemptInvalid(logger, provider.Name, attempt, errors.Count);
            messages.AddAssistantMessage(text.Length > 8000 ? text[..8000] : text);
            messages.AddUserMessage("That answer was rejected: " + string.Join("; ", errors.Take(10)) + ". Answer again with only the JSON object.");
        }
        throw new ChangeGenerationException(provider.Name, errors);
    }

    private static async Task<string> CollectAsync(IChatCompletionService chat, ChatHistory messages, PromptExecutionSettings settings,
        CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        // A copy: SK's bridge may append to the history it is given.
        await foreach (var update in chat.GetStreamingChatMessageContentsAsync([.. messages], settings, kernel: null, cancellationToken))
        {
            text.Append(update.Content);
            if (text.Length > MaxOutputChars)
            {
                return text.ToString(); // parsing reports it as too large/invalid
            }
        }
        return text.ToString();
    }

    /// <summary>Parses the model's answer; tolerates a Markdown code fence around the JSON and nothing else.</summary>
    internal static (IReadOnlyList<ProposedChange>? Changes, IReadOnlyList<string> Errors) Parse(string text)
    {
        var json = text.Trim();
        if (json.StartsWith("```", StringComparison.Ordinal))
        {
            var firstLine = json.IndexOf('\n');
            var closing = json.LastIndexOf("```", StringComparison.Ordinal);
            json = firstLine > 0 && closing > firstLine ? json[(firstLine + 1)..closing].Trim() : json;
        }
        if (json.Length > MaxOutputChars)
        {
            return (null, ["the answer is too large"]);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            return (null, [$"the answer is not valid JSON ({ex.Message})"]);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("changes", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return (null, ["the answer must be an object with a 'changes' array"]);
            }
            var errors = new List<string>();
            var changes = new List<ProposedChange>();
            var index = 0;
            if (list.GetArrayLength() > MaxChanges)
            {
                errors.Add($"at most {MaxChanges} changes are allowed");
            }
            foreach (var item in list.EnumerateArray().Take(MaxChanges))
            {
                var at = $"changes[{index++}]";
                if (item.ValueKind != JsonValueKind.Object)
                {
                    errors.Add($"{at} is not an object");
                    continue;
                }
                var path = StringOf(item, "file_path");
                var type = StringOf(item, "type");
                var rationale = StringOf(item, "rationale");
                string? content = null;
                var hasContent = item.TryGetProperty("content", out var contentElement);
                if (hasContent && contentElement.ValueKind == JsonValueKind.String)
                {
                    content = contentElement.GetString();
                }
                else if (hasContent && contentElement.ValueKind != JsonValueKind.Null)
                {
                    errors.Add($"{at}.content must be a string or null");
                    continue;
                }
                if (string.IsNullOrWhiteSpace(path))
                {
                    errors.Add($"{at}.file_path is required");
                }
                if (!ChangeTypes.IsKnown(type))
                {
                    errors.Add($"{at}.type must be create, modify or delete");
                }
                if (string.IsNullOrWhiteSpace(rationale))
                {
                    errors.Add($"{at}.rationale is required");
                }
                if (type is ChangeTypes.Create or ChangeTypes.Modify && content is null)
                {
                    errors.Add($"{at}.content is required for {type}");
                }
                if (path is null || !ChangeTypes.IsKnown(type) || string.IsNullOrWhiteSpace(rationale) || (type != ChangeTypes.Delete && content is null))
                {
                    continue;
                }
                changes.Add(new ProposedChange(path, type!, type == ChangeTypes.Delete ? null : content, rationale!.Trim()));
            }
            return errors.Count == 0 ? (changes, []) : (null, errors);
        }
    }

    private static string? StringOf(JsonElement item, string name) =>
        item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private const string SystemPrompt = """
        You are Conductor's code-change agent. Given an instruction and the current content of some files of a git
        repository, propose the changes that carry the instruction out. Answer with one JSON object and nothing else:
        {"changes":[{"file_path":"path/relative/to/root","type":"create|modify|delete","content":"whole new file content or null for delete","rationale":"why"}]}
        Use "modify" only for files shown to you that exist, "create" only for files that do not exist, and give the
        complete new content of every created or modified file. Keep changes minimal.
        """;

    private static string UserPrompt(string instruction, IReadOnlyList<ContextFile> files)
    {
        var prompt = new StringBuilder().Append("Instruction:\n").Append(instruction).Append("\n\n");
        foreach (var file in files)
        {
            prompt.Append("File ").Append(file.Path);
            if (file.Content is null)
            {
                prompt.Append(" (does not exist)\n\n");
            }
            else
            {
                prompt.Append(":\n<<<\n").Append(file.Content).Append("\n>>>\n\n");
            }
        }
        return prompt.ToString();
    }

    /// <summary>
    /// The offline agent: deterministic, valid changes. Each existing context file gets a note of the instruction
    /// appended (in the file's comment syntax; files without comments are left alone); a missing one is created;
    /// with no files, CONDUCTOR_NOTES.md records the instruction.
    /// </summary>
    internal static IReadOnlyList<ProposedChange> Mock(string instruction, IReadOnlyList<ContextFile> files)
    {
        var note = instruction.ReplaceLineEndings(" ").Trim();
        note = note.Length > 120 ? note[..120] : note;
        var changes = new List<ProposedChange>();
        foreach (var file in files)
        {
            if (file.Content is null)
            {
                changes.Add(new ProposedChange(file.Path, ChangeTypes.Create, $"{Comment(file.Path, "Created by the Conductor mock agent: " + note) ?? note}\n",
                    $"The mock agent creates {file.Path} for: {note}"));
                continue;
            }
            if (Comment(file.Path, "Conductor mock agent: " + note) is not { } line)
            {
                continue;
            }
            var separator = file.Content.Length == 0 || file.Content.EndsWith('\n') ? "" : "\n";
            changes.Add(new ProposedChange(file.Path, ChangeTypes.Modify, file.Content + separator + line + "\n",
                $"The mock agent records the instruction in {file.Path}: {note}"));
        }
        if (files.Count == 0)
        {
            changes.Add(new ProposedChange("CONDUCTOR_NOTES.md", ChangeTypes.Create, $"# Notes\n\n- {note}\n",
                "The mock agent writes the instruction down."));
        }
        return changes;
    }

    private static string? Comment(string path, string text)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".cs" or ".js" or ".ts" or ".tsx" or ".jsx" or ".java" or ".go" or ".c" or ".h" or ".cpp" or ".hpp" or ".rs" or ".kt"
                or ".swift" or ".scala" or ".dart" or ".php" => "// " + text,
            ".py" or ".sh" or ".rb" or ".yaml" or ".yml" or ".toml" or ".ps1" or ".r" or ".pl" or ".cfg" or ".ini" => "# " + text,
            ".sql" or ".lua" or ".hs" => "-- " + text,
            ".html" or ".xml" or ".csproj" or ".props" or ".svg" => $"<!-- {text.Replace("--", "- -", StringComparison.Ordinal)} -->",
            ".md" or ".txt" or "" => text,
            _ => null,
        };
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Change generation on {Provider}, attempt {Attempt}, failed: {Reason}")]
        public static partial void AttemptFailed(ILogger logger, string provider, int attempt, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Change generation on {Provider}, attempt {Attempt}: the answer had {Errors} problems")]
        public static partial void AttemptInvalid(ILogger logger, string provider, int attempt, int errors);
    }
}
