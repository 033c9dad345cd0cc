using Conductor.Workspaces;
using Conductor.Workspaces.Files;

namespace Conductor.Api.Changes;

/// <summary>
/// Changes an agent wrote itself (an MCP client) entering the same flow as generated ones: validated against the
/// workspace like a provider's answer, stored as a change set with a diff per change, evaluated by the policy, and
/// applied only when the policy says <c>apply_all</c> (through the same compare-and-write, audited, as
/// <c>/changes/{id}/apply</c>, through <see cref="ChangeApplier"/>). <c>review_required</c> leaves the set pending for review; <c>reject_all</c> stores nothing.
/// </summary>
public sealed class ChangeProposals(IWorkspaceFiles workspace, ChangeStore store, PolicyEvaluator policy, ChangeApplier applier, ChangeEvents events,
    TimeProvider time)
{
    public async Task<ProposalOutcome> ProposeAsync(Guid roomId, Guid userId, string login, string agent, string provider, string model, string instruction,
        IReadOnlyList<ProposedChange> proposed, CancellationToken cancellationToken)
    {
        if (proposed.Count == 0 || proposed.Count > ChangeGenerator.MaxChanges)
        {
            throw new ChangeProposalException([$"propose between 1 and {ChangeGenerator.MaxChanges} changes"]);
        }
        var bases = new Dictionary<string, WorkspaceFile?>(StringComparer.Ordinal);
        var (errors, changes) = await ChangeChecks.CheckAsync(roomId, proposed, workspace, bases, cancellationToken);
        if (errors.Count > 0)
        {
            throw new ChangeProposalException(errors);
        }

        var setId = Guid.NewGuid();
        var stored = changes.Select((c, index) =>
        {
            var before = bases[c.Path];
            var content = c.Change.Type == ChangeTypes.Delete ? null : c.Change.Content;
            return new StoredChange(Guid.NewGuid(), setId, index, c.Path, c.Change.Type, content, UnifiedDiff.Create(c.Path, before?.Content, content),
                c.Change.Rationale, before?.ETag, "pending");
        }).ToList();
        var decision = policy.Evaluate(stored.Select(c => new PolicyChange(c.FilePath, c.Type, c.Content, c.Diff)).ToList(), contextFiles: null);
        if (decision.Decision == PolicyDecisions.RejectAll)
        {
            return new ProposalOutcome(null, decision, []);
        }
        var set = new StoredChangeSet(setId, roomId, userId, agent, provider, model, instruction, [], time.GetUtcNow(), stored);
        await store.InsertAsync(set, cancellationToken);
        await events.ProposedAsync(set, login, decision, cancellationToken);
        if (decision.Decision != PolicyDecisions.ApplyAll)
        {
            return new ProposalOutcome(set, decision, []);
        }
        return new ProposalOutcome(set, decision, await applier.ApplyAsync(set, stored, userId, cancellationToken));
    }
}
