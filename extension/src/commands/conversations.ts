import * as vscode from 'vscode';
import type { ConductorApi } from '../api/client';
import type { Conversation } from '../api/types';
import { applyEventData, emptyTranscript, renderTranscript } from '../conversations/conversationStream';

/** Start, watch, stop and export the room's agent conversations (docs/conversations.md). */
export class ConversationCommands implements vscode.Disposable {
  private readonly output = vscode.window.createOutputChannel('Conductor Conversation');
  private watching: AbortController | undefined;

  constructor(private readonly api: ConductorApi) {}

  async start(roomId: string): Promise<void> {
    const topic = await vscode.window.showInputBox({ title: 'Conductor: Start Conversation', prompt: 'Topic', ignoreFocusOut: true,
      validateInput: value => value.trim().length === 0 ? 'Give the bots a topic.' : undefined });
    if (!topic) {
      return;
    }
    const status = await this.api.aiStatus();
    const bots: { name: string; provider: string; instructions: string }[] = [];
    for (const [index, defaults] of [['Proponent', 'Argue for the proposal.'], ['Critic', 'Argue against the proposal.']].entries()) {
      const name = await vscode.window.showInputBox({ title: `Bot ${index + 1}`, prompt: 'Name', value: defaults[0], ignoreFocusOut: true });
      const provider = await vscode.window.showQuickPick(status.providers.map(p => p.name), { title: `Bot ${index + 1}: provider`, ignoreFocusOut: true });
      const instructions = await vscode.window.showInputBox({ title: `Bot ${index + 1}`, prompt: 'Instructions', value: defaults[1], ignoreFocusOut: true });
      if (!name || !provider || instructions === undefined) {
        return;
      }
      bots.push({ name, provider, instructions });
    }
    const turns = await vscode.window.showInputBox({ title: 'Conductor: Start Conversation', prompt: 'Maximum turns', value: '6', ignoreFocusOut: true,
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
      void vscode.window.showInformationMessage(`Conversation "${stopped.topic}" ${stopped.status} after ${stopped.turns_done} turns.`);
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

  private async pick(roomId: string, title: string, filter: (c: Conversation) => boolean): Promise<Conversation | undefined> {
    const conversations = (await this.api.listConversations(roomId)).filter(filter);
    if (conversations.length === 0) {
      void vscode.window.showInformationMessage('This room has no such conversation.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(conversations.map(c => ({
      label: c.topic, description: `${c.status} · ${c.turns_done}/${c.max_turns} turns`, conversation: c,
    })), { title });
    return picked?.conversation;
  }

  dispose(): void {
    this.watching?.abort();
    this.output.dispose();
  }
}
