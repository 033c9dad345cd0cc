namespace Conductor.Api.GitRemote;

/// <summary>One ref a push wants to change: <c>old new refname</c>, as the client sent it.</summary>
public sealed record RefUpdate(string OldId, string NewId, string Ref)
{
    public bool IsDelete => NewId.All(c => c == '0');
}
