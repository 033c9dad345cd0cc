using Conductor.Tests.Ai;
using Conductor.Tests.Auth;
using Conductor.Tests.Infrastructure;

namespace Conductor.Tests.Conversations;

/// <summary>
/// One real Api process over real Postgres and Redis with fake OpenAI and Anthropic servers on 127.0.0.1, which the
/// tests may kill and start again over the same database (a restart in the middle of a conversation). Claims on
/// running conversations last 2 s here, so a killed instance's conversation is taken over soon after.
/// </summary>
public sealed class ConversationCluster() : FakeAiApiFixture("conversations", "conversation-workspaces")
{
    public const string Name = "conversations";
    public const int StartLimit = 3;

    protected override IEnumerable<KeyValuePair<string, string?>> Settings() => new Dictionary<string, string?>
    {
        ["Conversations__StartLimit"] = StartLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Conversations__LeaseDuration"] = "00:00:02",
        ["Conversations__RecoveryInterval"] = "00:00:00.200",
        ["Conversations__PollInterval"] = "00:00:00.100",
    };

    /// <summary>SIGKILLs the Api (a crash: nothing is released) and starts a new process over the same database.</summary>
    public async Task CrashAndRestartApiAsync()
    {
        await Api.KillAsync();
        await Api.DisposeAsync();
        await StartApiAsync();
    }

    /// <summary>A signed-in user with a room of their own.</summary>
    public Task<(ApiClient Client, SignedIn User, Guid RoomId)> HostWithRoomAsync(string name = "host") => CreateHostWithRoomAsync(name, "parley room");
}

[CollectionDefinition(ConversationCluster.Name)]
public sealed class ConversationCollection : ICollectionFixture<ConversationCluster>;
