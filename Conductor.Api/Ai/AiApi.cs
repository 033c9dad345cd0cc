using System.Buffers;
using System.Text.Json;
using Conductor.Api.Auth;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel.ChatCompletion;

namespace Conductor.Api.Ai;

public static partial class AiApi
{
    public static RouteGroupBuilder MapAiApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/ai").WithTags("AI").RequireAuthorization();
        group.MapGet("/status", GetStatusAsync).WithName("GetAiStatus");
        group.MapPost("/select", SelectAsync).WithName("SelectAiProvider");
        group.MapPost("/infer", InferAsync).WithName("AiInfer").Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        return group;
    }

    internal static async Task<Ok<AiStatusResponse>> GetStatusAsync(HttpContext context, AiProviderCatalog catalog,
        AiProviderStatusBoard board, AiSelections selections, CancellationToken cancellationToken)
    {
        var active = await selections.GetActiveAsync(context.User.GetUserId(), cancellationToken);
        var providers = catalog.All.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p =>
        {
            var probe = board.Get(p);
            return new AiProviderStatus(p.Name, p.Kind, p.Model, probe.Available, probe.LatencyMs, probe.Error);
        }).ToList();
        return TypedResults.Ok(new AiStatusResponse(providers, active.Name));
    }

    internal static async Task<Results<Ok<AiSelectResponse>, ProblemHttpResult>> SelectAsync(AiSelectRequest? request,
        HttpContext context, AiProviderCatalog catalog, AiProviderStatusBoard board, AiSelections selections, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request?.ProviderName))
        {
            return BadRequest("provider_name is required", "Name one of the providers /ai/status lists.");
        }
        var (provider, problem) = Resolve(request.ProviderName, catalog, board);
        if (problem is not null)
        {
            return problem;
        }
        await selections.SelectAsync(context.User.GetUserId(), provider!, cancellationToken);
        return TypedResults.Ok(new AiSelectResponse(provider!.Name));
    }

    internal static async Task<Results<EmptyHttpResult, ProblemHttpResult>> InferAsync(AiInferRequest? request, HttpContext context,
        AiProviderCatalog catalog, AiProviderStatusBoard board, AiSelections selections, SessionConnections sessions, IOptions<AiOptions> options,
        ILoggerFactory loggers)
    {
        var limits = options.Value;
        if (string.IsNullOrWhiteSpace(request?.Prompt))
        {
            return BadRequest("prompt is required", "Send {\"prompt\": \"...\"}.");
        }
        if (request.Prompt.Length > limits.MaxPromptChars || request.System?.Length > limits.MaxPromptChars)
        {
            return BadRequest("Prompt too long", $"prompt and system are limited to {limits.MaxPromptChars} characters each.");
        }
        AiProvider provider;
        if (request.Provider is { Length: > 0 } named)
        {
            var (resolved, problem) = Resolve(named, catalog, board);
            if (problem is not null)
            {
                return problem;
            }
            provider = resolved!;
        }
        else
        {
            provider = await selections.GetActiveAsync(context.User.GetUserId(), context.RequestAborted);
        }

        var history = new ChatHistory();
        if (request.System is { Length: > 0 } system)
        {
            history.AddSystemMessage(system);
        }
        history.AddUserMessage(request.Prompt);
        var settings = provider.CreateSettings(limits.MaxOutputTokens);

        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies must pass tokens on as they come
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var logger = loggers.CreateLogger("Conductor.Api.Ai.Infer");
        // The client going away cancels RequestAborted, which the SDK turns into an aborted provider request.
        var aborted = context.RequestAborted;
        // Signing the session out (on any instance) cancels the provider request too, and the answer ends saying so.
        using var signedIn = sessions.Track(context.User);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted, signedIn.SignedOut);
        timeout.CancelAfter(limits.RequestTimeout);
        await response.StartAsync(aborted);
        var tokens = 0;
        try
        {
            await foreach (var update in provider.ChatCompletion.GetStreamingChatMessageContentsAsync(history, settings, kernel: null, timeout.Token))
            {
                if (update.Content is not { Length: > 0 } text)
                {
                    continue;
                }
                tokens++;
                await WriteEventAsync(response, writer => writer.WriteString("token", text), aborted);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            LogInferCancelled(logger, provider.Name, tokens);
            return TypedResults.Empty;
        }
        catch (Exception) when (signedIn.IsSignedOut)
        {
            // Whatever the SDK made of the cancellation: the documented error event, then [DONE] as always.
            LogInferSignedOut(logger, provider.Name, tokens);
            await WriteEventAsync(response, writer => writer.WriteString("error", SessionConnections.SignedOutCloseReason), aborted);
        }
        catch (Exception ex) when (!aborted.IsCancellationRequested)
        {
            var reason = AiProviderCatalog.Describe(ex);
            LogInferFailed(logger, provider.Name, tokens, reason);
            await WriteEventAsync(response, writer => writer.WriteString("error", reason), aborted);
        }
        await response.WriteAsync("data: [DONE]\n\n", aborted);
        await response.Body.FlushAsync(aborted);
        return TypedResults.Empty;
    }

    private static async Task WriteEventAsync(HttpResponse response, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        buffer.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        await response.Body.WriteAsync(buffer.WrittenMemory, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private static (AiProvider? Provider, ProblemHttpResult? Problem) Resolve(string name, AiProviderCatalog catalog, AiProviderStatusBoard board)
    {
        var provider = catalog.Find(name.Trim());
        if (provider is null)
        {
            return (null, BadRequest("Unknown provider",
                $"'{Truncate(name)}' is not configured; known providers: {string.Join(", ", catalog.All.Select(p => p.Name).Order(StringComparer.Ordinal))}."));
        }
        var probe = board.Get(provider);
        if (!probe.Available)
        {
            return (null, BadRequest("Provider unavailable", $"'{provider.Name}' is unavailable: {probe.Error ?? "no answer"}."));
        }
        return (provider, null);
    }

    private static ProblemHttpResult BadRequest(string title, string detail) => ApiProblems.Create(StatusCodes.Status400BadRequest, title, detail);

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference on {Provider} cancelled by the client after {Tokens} tokens")]
    private static partial void LogInferCancelled(ILogger logger, string provider, int tokens);

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference on {Provider} ended after {Tokens} tokens: the session signed out")]
    private static partial void LogInferSignedOut(ILogger logger, string provider, int tokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Inference on {Provider} failed after {Tokens} tokens: {Reason}")]
    private static partial void LogInferFailed(ILogger logger, string provider, int tokens, string reason);
}
