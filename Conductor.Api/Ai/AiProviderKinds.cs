namespace Conductor.Api.Ai;

public static class AiProviderKinds
{
    public const string OpenAI = "openai";
    public const string Anthropic = "anthropic";
    public const string Mock = "mock";

    public static bool IsKnown(string kind) => kind is OpenAI or Anthropic or Mock;
}
