import * as vscode from 'vscode';
import type { ConductorApi } from '../api/client';
import type { ProposedChange } from '../api/types';
import { fileUri } from '../fs/conductorFileSystemProvider';

export const ProposedScheme = 'conductor-proposed';

/** Read-only documents holding a proposed change's content, for the right side of the diff editor. */
export class ProposedContentProvider implements vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();

  set(changeId: string, content: string): vscode.Uri {
    this.contents.set(changeId, content);
    return vscode.Uri.from({ scheme: ProposedScheme, path: `/${changeId}` });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.path.slice(1)) ?? '';
  }
}

export const proposedContent = new ProposedContentProvider();

/**
 * Generate → policy → per-change review in the diff editor (Apply / Skip) → summary. Applying goes through the Api
 * (`POST /changes/{id}/apply`, audited by the server with the etag check); a skip is audited with `/audit/log-apply`.
 */
export async function reviewChanges(api: ConductorApi, roomId: string, log: (line: string) => void): Promise<void> {
  const instruction = await vscode.window.showInputBox({
    title: 'Conductor: Generate Changes', prompt: 'What should change?', ignoreFocusOut: true,
    validateInput: value => value.trim().length === 0 ? 'Describe the change.' : value.length > 4000 ? 'At most 4000 characters.' : undefined,
  });
  if (!instruction) {
    return;
  }
  // Context: the room's files open in editors.
  const context = vscode.window.visibleTextEditors
    .map(editor => editor.document.uri)
    .filter(uri => uri.scheme === 'conductor' && uri.authority === roomId)
    .map(uri => uri.path.replace(/^\//, ''));
  const set = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Generating changes…' },
    () => api.generateChanges(roomId, instruction.trim(), [...new Set(context)]));
  const policy = await api.evaluatePolicy(set.change_set_id);
  log(`policy ${policy.decision} (${policy.risk_score}): ${policy.reasons.join('; ')}`);
  const reasons = policy.reasons.length > 0 ? policy.reasons.join('\n') : 'No rule fired.';
  if (policy.decision === 'reject_all') {
    await vscode.window.showWarningMessage(`The policy rejects these ${set.changes.length} change(s) (risk ${policy.risk_score.toFixed(2)}).`, { modal: true, detail: reasons });
    for (const change of set.changes) {
      await api.logDecision(roomId, change.id, 'skipped', change.file_path);
    }
    return;
  }
  const go = await vscode.window.showInformationMessage(
    `${set.changes.length} change(s) from ${set.agent}: policy says ${policy.decision.replace('_', ' ')} (risk ${policy.risk_score.toFixed(2)}).`,
    { modal: true, detail: reasons }, 'Review');
  if (go !== 'Review') {
    return;
  }
  let applied = 0;
  let skipped = 0;
  const refused: string[] = [];
  for (const change of set.changes) {
    const decision = await reviewOne(roomId, change);
    if (decision === 'Apply') {
      const [result] = await api.applyChanges(set.change_set_id, [change.id]);
      if (result?.outcome === 'applied') {
        applied++;
      } else {
        refused.push(`${change.file_path}: ${result?.detail ?? 'refused'}`);
      }
    } else {
      await api.logDecision(roomId, change.id, 'skipped', change.file_path);
      skipped++;
    }
  }
  const summary = `Changes: ${applied} applied, ${skipped} skipped${refused.length ? `, ${refused.length} refused` : ''}.`;
  if (refused.length) {
    log(`refused: ${refused.join('; ')}`);
    void vscode.window.showWarningMessage(`${summary} Refused: ${refused.join('; ')}`);
  } else {
    void vscode.window.showInformationMessage(summary);
  }
}

async function reviewOne(roomId: string, change: ProposedChange): Promise<'Apply' | 'Skip'> {
  const current = fileUri(roomId, change.file_path);
  const empty = proposedContent.set(`${change.id}-before`, '');
  const proposed = proposedContent.set(change.id, change.type === 'delete' ? '' : change.content ?? '');
  const left = change.type === 'create' ? empty : current;
  await vscode.commands.executeCommand('vscode.diff', left, proposed, `${change.file_path} (${change.type}) — ${change.rationale}`);
  const picked = await vscode.window.showQuickPick(['Apply', 'Skip'], {
    title: `${change.type} ${change.file_path}`, placeHolder: change.rationale, ignoreFocusOut: true,
  });
  return picked === 'Apply' ? 'Apply' : 'Skip';
}
