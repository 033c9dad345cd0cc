import * as vscode from 'vscode';
import type { ConductorApi } from '../api/client';
import type { Conversation } from '../api/types';
import { applyEventData, emptyTranscript, renderTranscript } from '../conversations/conversationStream';

/** Start, watch, stop and export the room's agent conversations (docs/conversations.md). */
export class ConversationCommands implements vscode.Disposable {
  private readonly output = vscode.window.createOutputChannel('Conductor Conversation');
  private watching: AbortController | undefined;

  constructor(private readonly api: ConductorApi) {}

  /**
   * The start wizard: eight steps, each titled with its number (as the workspace wizard's are), so the inputs that
   * share a prompt (the two bots' name and instructions) are told apart by the user and by the end-to-end test.
   */
  async start(roomId: string): Promise<void> {
    const title = (step: number, what: string): string => `Conductor: Start Agent Conversation (${step}/8): ${what}`;
    const topic = await vscode.window.showInputBox({ title: title(1, 'topic'), prompt: 'What the bots discuss', ignoreFocusOut: true,
      validateInput: value => value.trim().length === 0 ? 'Give the bots a topic.' : undefined });
    if (!topic) {
      return;
    }
    const status = await this.api.aiStatus();
    const bots: { name: string; provider: string; instructions: string }[] = [];
    for (const [index, defaults] of [['Proponent', 'Argue for the proposal.'], ['Critic', 'Argue against the proposal.']].entries()) {
      const step = 2 + index * 3;
      const bot = `Bot ${index + 1}`;
      const name = await vscode.window.showInputBox({ title: title(step, `${bot} name`), prompt: 'Name', value: defaults[0], ignoreFocusOut: true,
        validateInput: value => value.trim().length === 0 ? 'Give the bot a name.' : undefined });
      if (!name) {
        return;
      }
      const provider = await vscode.window.showQuickPick(status.providers.map(p => ({
        label: p.name, description: `${p.kind}, ${p.model}`, detail: p.available ? undefined : `unavailable${p.error ? ` (${p.error})` : ''}`,
      })), { title: title(step + 1, `${bot} provider`), ignoreFocusOut: true });
      if (!provider) {
        return;
      }
      const instructions = await vscode.window.showInputBox({ title: title(step + 2, `${bot} instructions`), prompt: 'Instructions', value: defaults[1],
        ignoreFocusOut: true });
      if (instructions === undefined) {
        return;
      }
      bots.push({ name: name.trim(), provider: provider.label, instructions });
    }
    const turns = await vscode.window.showInputBox({ title: title(8, 'maximum turns'), prompt: 'Maximum turns', value: '6', ignoreFocusOut: true,
      validateInput: value => /^[1-9][0-9]*$/.test(value) ? undefined : 'A whole number of turns.' });
    if (!turns) {
      return;
    }
    const conversation = await this.api.startConversation(roomId, { topic: topic.trim(), bots, max_turns: Number(turns) });
    await this.follow(roomId, conversation);
  }

  async watch(roomId: string): Promise<void> {
    const conversation = await this.pick(roomId, 'Watch which conversation?', () => true);
    if (conversation) {
      await this.follow(roomId, conversation);
    }
  }

  async stop(roomId: string): Promise<void> {
    const conversation = await this.pick(roomId, 'Stop which conversation?', c => c.status === 'running');
    if (conversation) {
      const stopped = await this.api.stopConversation(roomId, conversation.conversation_id);
      void vscode.window.showInformationMessage(`Conversation "${stopped.topic}" ${stopped.status} after ${stopped.turns_done} turn${stopped.turns_done === 1 ? '' : 's'}.`);
    }
  }

  async export(roomId: string): Promise<void> {
    const conversation = await this.pick(roomId, 'Export which conversation?', () => true);
    if (conversation) {
      const markdown = await this.api.exportConversationMarkdown(roomId, conversation.conversation_id);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown }));
    }
  }

  /** Streams into the output channel, resuming after a dropped connection with the last event id, until `done`. */
  private async follow(roomId: string, conversation: Conversation): Promise<void> {
    this.watching?.abort();
    const controller = new AbortController();
    this.watching = controller;
    this.output.show(true);
    let transcript = emptyTranscript;
    let lastEventId: string | undefined;
    const redraw = (): void => this.output.replace(renderTranscript(conversation.topic, transcript));
    for (let failures = 0; transcript.status === null && !controller.signal.aborted;) {
      try {
        await this.api.streamConversation(roomId, conversation.conversation_id, lastEventId, frame => {
          lastEventId = frame.lastEventId || lastEventId;
          transcript = applyEventData(transcript, frame.data);
          redraw();
        }, controller.signal);
        failures = 0;
      } catch (error) {
        if (controller.signal.aborted || ++failures > 5) {
          throw error;
        }
      }
      if (transcript.status === null) {
        await new Promise(resolve => setTimeout(resolve, 1000));
      }
    }
  }

  /**
   * `ignoreFocusOut`, as every other input of the extension: run from the palette while a WebView (the chat panel) had
   * the focus, VS Code hands the focus back to the WebView as the palette closes, a moment after this pick opened, and
   * a pick that closes on focus loss vanished before the user saw it (the e2e's Stop step, after the panel's @ai steps).
   */
  private async pick(roomId: string, title: string, filter: (c: Conversation) => boolean): Promise<Conversation | undefined> {
    const conversations = (await this.api.listConversations(roomId)).filter(filter);
    if (conversations.length === 0) {
      void vscode.window.showInformationMessage('This room has no such conversation.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(conversations.map(c => ({
      label: c.topic, description: `${c.status} · ${c.turns_done}/${c.max_turns} turns`, conversation: c,
    })), { title, ignoreFocusOut: true });
    return picked?.conversation;
  }

  dispose(): void {
    this.watching?.abort();
    this.output.dispose();
  }
}
