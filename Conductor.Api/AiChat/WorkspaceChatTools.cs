using System.ComponentModel;
using System.Text;
using Conductor.Workspaces;
using Conductor.Workspaces.Files;
using Conductor.Workspaces.Search;
using Microsoft.SemanticKernel;

namespace Conductor.Api.AiChat;

/// <summary>
/// The read-only workspace tools an assistant in chat may call (Semantic Kernel functions, offered to the model as
/// tools): search, read a file, list a folder. Nothing here writes. Failures come back as text the model can read
/// ("error: ..."), so a wrong path does not end the answer.
/// </summary>
public sealed class WorkspaceChatTools(Guid roomId, WorkspaceFileService files, CodeSearch search, TimeSpan regexTimeout, int maxChars,
    Func<string, string, CancellationToken, Task> onCall)
{
    public const string PluginName = "workspace";
    private const int MaxEntries = 300;

    [KernelFunction("search"), Description("Searches the text of the room's workspace files (plain text, case-insensitive). Returns path:line: text per match.")]
    public async Task<string> SearchAsync([Description("The text to look for.")] string query, CancellationToken cancellationToken)
    {
        await onCall("search", query, cancellationToken);
        return await GuardAsync(async () =>
        {
            var prepared = CodeSearch.Prepare(new SearchQuery(query) { MaxResults = 40 }, regexTimeout);
            var worktree = await files.GetWorktreeAsync(roomId, cancellationToken);
            var matches = await search.SearchAsync(worktree, prepared, cancellationToken);
            if (matches.Count == 0)
            {
                return "no matches";
            }
            var text = new StringBuilder();
            foreach (var match in matches)
            {
                text.Append(match.FilePath).Append(':').Append(match.Line).Append(": ").Append(match.Content.Trim()).Append('\n');
            }
            return Cap(text.ToString());
        });
    }

    [KernelFunction("read_file"), Description("Reads one text file of the room's workspace.")]
    public async Task<string> ReadFileAsync([Description("Path relative to the repository root, '/'-separated.")] string path, CancellationToken cancellationToken)
    {
        await onCall("read_file", path, cancellationToken);
        return await GuardAsync(async () =>
        {
            var file = await files.ReadAsync(roomId, path, cancellationToken);
            return file.Encoding == "utf-8" ? Cap(file.Content) : $"error: {file.Path} is a binary file";
        });
    }

    [KernelFunction("list_files"), Description("Lists the files and folders in a folder of the room's workspace (folders end in '/').")]
    public async Task<string> ListFilesAsync([Description("Folder relative to the repository root; empty for the root.")] string? path, CancellationToken cancellationToken)
    {
        await onCall("list_files", path ?? "", cancellationToken);
        return await GuardAsync(async () =>
        {
            var entries = await files.ListAsync(roomId, string.IsNullOrWhiteSpace(path) ? null : path, recursive: false, cancellationToken);
            var text = new StringBuilder();
            foreach (var entry in entries.Take(MaxEntries))
            {
                text.Append(entry.Path).Append(entry.Type == "dir" ? "/" : "").Append('\n');
            }
            if (entries.Count > MaxEntries)
            {
                text.Append($"... and {entries.Count - MaxEntries} more\n");
            }
            return text.Length == 0 ? "empty folder" : Cap(text.ToString());
        });
    }

    private string Cap(string text) => text.Length <= maxChars ? text : text[..maxChars] + "\n... (truncated)";

    // What the workspace refuses (a path outside it, no workspace, a bad query) is told to the model as text.
    private static async Task<string> GuardAsync(Func<Task<string>> call)
    {
        try
        {
            return await call();
        }
        catch (WorkspaceException ex)
        {
            return $"error: {ex.Message}";
        }
    }
}
