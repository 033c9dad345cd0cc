import * as vscode from 'vscode';
import { ProposedScheme, proposedContent } from './commands/reviewChanges';
import { SessionController } from './controller';
import { Scheme } from './fs/conductorFileSystemProvider';

export function activate(context: vscode.ExtensionContext): void {
  const controller = new SessionController(context);
  context.subscriptions.push(controller);
  context.subscriptions.push(
    vscode.workspace.registerFileSystemProvider(Scheme, controller.fileSystem, { isCaseSensitive: true }),
    vscode.workspace.registerTextDocumentContentProvider(ProposedScheme, proposedContent),
  );

  const commands: Record<string, (...args: unknown[]) => Promise<void> | void> = {
    'conductor.signIn': () => controller.signIn(),
    'conductor.signOut': () => controller.signOut(),
    'conductor.createRoom': () => controller.createRoom(),
    'conductor.joinRoom': (invite?: unknown) => controller.joinRoom(typeof invite === 'string' ? invite : undefined),
    'conductor.copyInvite': () => controller.copyInvite(),
    'conductor.createWorkspace': () => controller.createWorkspace(),
    'conductor.openWorkspaceFolder': () => controller.openWorkspaceFolder(),
    'conductor.openWorkspaceFile': () => controller.openWorkspaceFile(),
    'conductor.openPanel': () => controller.openPanel(),
    'conductor.search': () => controller.search(),
    'conductor.shareSelection': () => controller.shareSelection(),
    'conductor.generateChanges': () => controller.generateChanges(),
    'conductor.commitAndPush': () => controller.commitAndPush(),
    'conductor.createRoomFromFolder': () => controller.createRoomFromFolder(),
    'conductor.sync': () => controller.sync(),
    'conductor.publish': () => controller.publish(),
    'conductor.startConversation': () => controller.startConversation(),
    'conductor.watchConversation': () => controller.watchConversation(),
    'conductor.stopConversation': () => controller.stopConversation(),
    'conductor.exportConversation': () => controller.exportConversation(),
    'conductor.runCommand': () => controller.runCommand(),
    'conductor.openTerminal': () => controller.openTerminal(),
    'conductor.leaveSession': () => controller.leaveSession(),
  };
  for (const [id, handler] of Object.entries(commands)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => controller.run(id, () => handler(...args))));
  }

  // vscode://conductor.conductor-vscode/join?token=... opens an invite.
  context.subscriptions.push(vscode.window.registerUriHandler({
    handleUri: uri => {
      const token = new URLSearchParams(uri.query).get('token');
      if (uri.path === '/join' && token) {
        void controller.run('join link', () => controller.joinRoom(token));
      }
    },
  }));

  void controller.restore();
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
