using System.Diagnostics;
using Conductor.Api.Ai;
using Conductor.Api.Changes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Xunit.Abstractions;

namespace Conductor.Tests.Ai;

/// <summary>The provider adapters against fake OpenAI and Anthropic servers speaking the real wire formats.</summary>
public sealed class AiProviderTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Key = "sk-test-0123456789abcdef";
    private FakeAiServer _openai = null!;
    private FakeAiServer _anthropic = null!;

    public async Task InitializeAsync()
    {
        _openai = await FakeAiServer.StartAsync(FakeAiKind.OpenAI);
        _anthropic = await FakeAiServer.StartAsync(FakeAiKind.Anthropic);
    }

    public async Task DisposeAsync()
    {
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private AiProviderCatalog Catalog(string? defaultProvider = null) => new(Options.Create(new AiOptions
    {
        DefaultProvider = defaultProvider,
        Providers =
        {
            ["fake-openai"] = new AiProviderOptions { Kind = "openai", Endpoint = _openai.Endpoint, ApiKey = Key, Model = "fake-model" },
            ["fake-anthropic"] = new AiProviderOptions { Kind = "anthropic", Endpoint = _anthropic.Endpoint, ApiKey = Key, Model = "fake-claude" },
        },
    }));

    private FakeAiServer Server(string provider) => provider == "fake-openai" ? _openai : _anthropic;

    /// <summary>Streams "hi" through the provider's Semantic Kernel chat completion service, as /ai/infer does.</summary>
    private static IAsyncEnumerable<StreamingChatMessageContent> Stream(AiProvider provider, CancellationToken cancellationToken = default) =>
        provider.ChatCompletion.GetStreamingChatMessageContentsAsync(new ChatHistory("hi", AuthorRole.User), provider.CreateSettings(256), null, cancellationToken);

    [Theory]
    [InlineData("fake-openai")]
    [InlineData("fake-anthropic")]
    public async Task Streams_the_providers_tokens_in_order(string name)
    {
        using var catalog = Catalog();
        Server(name).Answer = _ => new FakeAnswer(["Hel", "lo", " wor", "ld"]);
        var tokens = new List<string>();
        await foreach (var update in Stream(catalog.Find(name)!))
        {
            if (!string.IsNullOrEmpty(update.Content))
            {
                tokens.Add(update.Content);
            }
        }
        Assert.Equal(["Hel", "lo", " wor", "ld"], tokens);
        var request = Assert.Single(Server(name).ChatRequests);
        Assert.True(request.Json.GetProperty("stream").GetBoolean());
        if (name == "fake-openai")
        {
            Assert.Equal($"Bearer {Key}", request.Authorization);
            Assert.Equal("fake-model", request.Json.GetProperty("model").GetString());
        }
        else
        {
            // The Anthropic SDK 13.x sends the key as a bearer token (12.x used x-api-key); the real API takes both.
            Assert.Equal($"Bearer {Key}", request.Authorization);
            Assert.True(request.Headers.ContainsKey("anthropic-version"));
            Assert.Equal("fake-claude", request.Json.GetProperty("model").GetString());
        }
    }

    [Theory]
    [InlineData("fake-openai")]
    [InlineData("fake-anthropic")]
    public async Task Cancelling_the_stream_aborts_the_providers_request_without_draining_it(string name)
    {
        using var catalog = Catalog();
        Server(name).Answer = _ => new FakeAnswer(["first"]) { HangAtEnd = true };
        using var cts = new CancellationTokenSource();
        long cancelledAt = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in Stream(catalog.Find(name)!, cts.Token))
            {
                if (update.Content == "first")
                {
                    cancelledAt = Stopwatch.GetTimestamp();
                    cts.Cancel();
                }
            }
        });
        var request = Assert.Single(Server(name).ChatRequests);
        await request.ClientAborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // Measured on the fake's side. HttpClient's default drain would hold the connection for 2 s (its
        // ResponseDrainTimeout) before closing it; the goal is 50 ms (bench/Conductor.Bench.Ai prints the real figure).
        // The bound here only tells "aborted" from "drained", so it sits just under the drain: a loaded CI machine once
        // took 1.03 s to run the abort, which a 1 s bound took for a drain.
        var latency = Stopwatch.GetElapsedTime(cancelledAt, request.AbortedAt);
        output.WriteLine($"cancel to provider abort: {latency.TotalMilliseconds:F1} ms");
        Assert.InRange(latency, TimeSpan.Zero, TimeSpan.FromSeconds(1.9));
    }

    /// <summary>A kernel function the model may call; records what it was asked.</summary>
    public sealed class LookupTool
    {
        public List<string> Calls { get; } = [];

        [KernelFunction("lookup"), System.ComponentModel.Description("Looks a word up.")]
        public string Lookup(string word)
        {
            Calls.Add(word);
            return $"{word} means fake";
        }
    }

    [Theory]
    [InlineData("fake-openai")]
    [InlineData("fake-anthropic")]
    public async Task A_tool_call_in_the_providers_wire_format_runs_the_kernel_function_and_its_result_goes_back(string name)
    {
        using var catalog = Catalog();
        var provider = catalog.Find(name)!;
        var tool = new LookupTool();
        var kernel = new Kernel();
        kernel.Plugins.AddFromObject(tool, "dict");
        string? offered = null;
        Server(name).AnswerRequest = request =>
        {
            var body = request.Json;
            var tools = body.GetProperty("tools").EnumerateArray().ToList();
            offered = name == "fake-openai" ? tools.Single().GetProperty("function").GetProperty("name").GetString() : tools.Single().GetProperty("name").GetString();
            return request.Body.Contains("means fake", StringComparison.Ordinal) ? new FakeAnswer(["It ", "means fake."]) : FakeAnswer.Tool(offered!, """{"word":"zebra"}""");
        };
        var settings = provider.CreateSettings(256, functions: FunctionChoiceBehavior.Auto());
        var text = new System.Text.StringBuilder();
        await foreach (var update in provider.ChatCompletion.GetStreamingChatMessageContentsAsync(new ChatHistory("what is a zebra?", AuthorRole.User), settings, kernel))
        {
            text.Append(update.Content);
        }
        Assert.Equal("It means fake.", text.ToString());
        Assert.Equal(["zebra"], tool.Calls);
        Assert.Contains("lookup", offered, StringComparison.Ordinal);
        Assert.Equal(2, Server(name).ChatRequests.Count);
        var second = Server(name).ChatRequests[1].Body;
        Assert.Contains(name == "fake-openai" ? "\"role\":\"tool\"" : "\"type\":\"tool_result\"", second, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fake-openai")]
    [InlineData("fake-anthropic")]
    public async Task A_stream_broken_mid_way_fails_with_a_reason_that_holds_no_secret(string name)
    {
        using var catalog = Catalog();
        Server(name).Answer = _ => new FakeAnswer(["one", "two", "three"]) { AbortAfter = 2 };
        var tokens = new List<string>();
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var update in Stream(catalog.Find(name)!))
            {
                if (!string.IsNullOrEmpty(update.Content))
                {
                    tokens.Add(update.Content);
                }
            }
        });
        Assert.Equal(["one", "two"], tokens);
        var reason = AiProviderCatalog.Describe(error);
        Assert.DoesNotContain(Key, reason, StringComparison.Ordinal);
        Assert.StartsWith("the ", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fake-openai")]
    [InlineData("fake-anthropic")]
    public async Task The_probe_measures_latency_and_reports_failures(string name)
    {
        using var catalog = Catalog();
        var board = new AiProviderStatusBoard();
        var options = Options.Create(new AiOptions { ProbeTimeout = TimeSpan.FromSeconds(5) });
        var probe = new AiProbeService(catalog, board, options, TimeProvider.System, NullLogger<AiProbeService>.Instance);
        var provider = catalog.Find(name)!;

        Server(name).ModelsDelay = TimeSpan.FromMilliseconds(250);
        await probe.ProbeAsync(provider, CancellationToken.None);
        var up = board.Get(provider);
        Assert.True(up.Available);
        Assert.InRange(up.LatencyMs!.Value, 240, 5000);

        Server(name).ModelsDelay = TimeSpan.Zero;
        Server(name).ModelsStatus = 503;
        await probe.ProbeAsync(provider, CancellationToken.None);
        var down = board.Get(provider);
        Assert.False(down.Available);
        Assert.Equal("the provider answered HTTP 503", down.Error);
    }

    [Fact]
    public void Without_a_key_the_default_provider_is_the_mock_and_with_one_the_keyed_provider()
    {
        using var keyless = new AiProviderCatalog(Options.Create(new AiOptions
        {
            Providers = { ["ollama"] = new AiProviderOptions { Kind = "openai", Endpoint = new Uri("http://127.0.0.1:1/v1"), Model = "llama" } },
        }));
        Assert.Equal("mock", keyless.DefaultProvider);
        Assert.NotNull(keyless.Find("ollama"));
        using var keyed = Catalog();
        Assert.Equal("fake-anthropic", keyed.DefaultProvider);
        Assert.Equal("fake-openai", Catalog("fake-openai").DefaultProvider);
    }

    [Fact]
    public void Options_validation_names_each_mistake()
    {
        var result = new AiOptionsValidator().Validate(null, new AiOptions
        {
            DefaultProvider = "missing",
            Providers =
            {
                ["Bad Name"] = new AiProviderOptions { Kind = "openai", Model = "m" },
                ["nokind"] = new AiProviderOptions { Kind = "gemini" },
                ["nomodel"] = new AiProviderOptions { Kind = "anthropic" },
                ["keyinurl"] = new AiProviderOptions { Kind = "openai", Model = "m", Endpoint = new Uri("http://u:p@127.0.0.1/v1") },
            },
        });
        Assert.True(result.Failed);
        var message = string.Join("\n", result.Failures!);
        Assert.Contains("Bad Name", message, StringComparison.Ordinal);
        Assert.Contains("gemini", message, StringComparison.Ordinal);
        Assert.Contains("nomodel:Model is required", message, StringComparison.Ordinal);
        Assert.Contains("keyinurl:Endpoint must not carry credentials", message, StringComparison.Ordinal);
        Assert.Contains("'missing'", message, StringComparison.Ordinal);
    }

    private static ChangeGenerator Generator() => new(NullLogger<ChangeGenerator>.Instance);

    private static Task<IReadOnlyList<string>> NoProblems(IReadOnlyList<ProposedChange> changes, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<string>>([]);

    private const string ValidChanges = """{"changes":[{"file_path":"src/a.cs","type":"modify","content":"class A {}\n","rationale":"tidy"}]}""";

    [Theory]
    [InlineData("fake-openai")]
    [InlineData("fake-anthropic")]
    public async Task Generation_parses_streamed_json_and_asks_for_the_schema(string name)
    {
        using var catalog = Catalog();
        Server(name).Answer = _ => FakeAnswer.Text(ValidChanges, pieces: 7);
        var (agent, changes) = await Generator().GenerateAsync(catalog.Find(name)!, "tidy", [new ContextFile("src/a.cs", "class A{}")], NoProblems, CancellationToken.None);
        Assert.Equal(ChangeGenerator.LlmAgent, agent);
        var change = Assert.Single(changes);
        Assert.Equal(new ProposedChange("src/a.cs", "modify", "class A {}\n", "tidy"), change);
        var body = Assert.Single(Server(name).ChatRequests).Json;
        if (name == "fake-openai")
        {
            var format = body.GetProperty("response_format");
            Assert.Equal("json_schema", format.GetProperty("type").GetString());
            Assert.Equal("object", format.GetProperty("json_schema").GetProperty("schema").GetProperty("type").GetString());
        }
        Assert.Contains("class A{}", body.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_output_is_retried_once_with_the_reason()
    {
        using var catalog = Catalog();
        _openai.Answer = n => n == 1 ? FakeAnswer.Text("Sure! Here are your changes: {not json") : FakeAnswer.Text(ValidChanges, 3);
        var (_, changes) = await Generator().GenerateAsync(catalog.Find("fake-openai")!, "tidy", [], NoProblems, CancellationToken.None);
        Assert.Single(changes);
        Assert.Equal(2, _openai.ChatRequests.Count);
        Assert.Contains("That answer was rejected", _openai.ChatRequests[1].Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"changes":[{"file_path":"a.cs","type":"rename","content":"x","rationale":"r"}]}""", "type must be create, modify or delete")]
    [InlineData("""{"changes":[{"file_path":"a.cs","type":"modify","content":null,"rationale":"r"}]}""", "content is required for modify")]
    [InlineData("""{"changes":[{"file_path":"","type":"delete","content":null,"rationale":"r"}]}""", "file_path is required")]
    [InlineData("""{"edits":[]}""", "'changes' array")]
    [InlineData("not json", "not valid JSON")]
    public async Task Invalid_output_twice_fails_with_the_reasons(string output, string expected)
    {
        using var catalog = Catalog();
        _openai.Answer = _ => FakeAnswer.Text(output);
        var error = await Assert.ThrowsAsync<ChangeGenerationException>(() =>
            Generator().GenerateAsync(catalog.Find("fake-openai")!, "tidy", [], NoProblems, CancellationToken.None));
        Assert.Contains(error.Errors, e => e.Contains(expected, StringComparison.Ordinal));
        Assert.Equal(2, _openai.ChatRequests.Count);
    }

    [Theory]
    [InlineData("fake-openai")]
    [InlineData("fake-anthropic")]
    public async Task A_stream_failing_mid_way_is_retried_and_then_reported(string name)
    {
        using var catalog = Catalog();
        Server(name).Answer = n => n == 1 ? FakeAnswer.Text(ValidChanges, 5) with { AbortAfter = 2 } : FakeAnswer.Text(ValidChanges, 5);
        var (_, changes) = await Generator().GenerateAsync(catalog.Find(name)!, "tidy", [], NoProblems, CancellationToken.None);
        Assert.Single(changes);

        Server(name).Answer = _ => FakeAnswer.Text(ValidChanges, 5) with { AbortAfter = 2 };
        var error = await Assert.ThrowsAsync<ChangeGenerationException>(() =>
            Generator().GenerateAsync(catalog.Find(name)!, "tidy", [], NoProblems, CancellationToken.None));
        Assert.Contains(error.Errors, e => e.StartsWith("the ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_mock_agent_is_deterministic()
    {
        using var catalog = Catalog();
        var mock = catalog.Find("mock")!;
        ContextFile[] files = [new("src/a.cs", "class A {}\n"), new("README.md", "# R"), new("new.py", null), new("data.json", "{}")];
        var first = await Generator().GenerateAsync(mock, "add logging", files, NoProblems, CancellationToken.None);
        var second = await Generator().GenerateAsync(mock, "add logging", files, NoProblems, CancellationToken.None);
        Assert.Equal(ChangeGenerator.MockAgent, first.Agent);
        Assert.Equal(first.Changes, second.Changes);
        Assert.Equal(["src/a.cs", "README.md", "new.py"], first.Changes.Select(c => c.FilePath));
        Assert.Equal("class A {}\n// Conductor mock agent: add logging\n", first.Changes[0].Content);
        Assert.Equal("# R\nConductor mock agent: add logging\n", first.Changes[1].Content);
        Assert.Equal("create", first.Changes[2].Type);
    }
}
