import * as vscode from 'vscode';
import { ConductorApi } from './api/client';
import { ApiError, BackendUnreachableError, NotSignedInError, describeError } from './api/errors';
import type { CodeSnippet, RoomRole, SyncOutcome } from './api/types';
import { AuthSession } from './auth/authSession';
import { withRetry } from './chat/backoff';
import { ChatConnection } from './chat/chatConnection';
import { ConductorFileSystemProvider, fileUri } from './fs/conductorFileSystemProvider';
import { workspaceFileContent, workspaceFileFolders, type WorkspaceFileFolder } from './fs/workspaceFile';
import { WorkspaceFiles } from './fs/workspaceFiles';
import { CollaborationPanel } from './panel/collaborationPanel';
import { MaxUploadBytes, uploadTooLargeMessage, type WebviewToHost } from './panel/messages';
import { SessionStateMachine } from './session/stateMachine';
import { maskToken, parseInvite, validateBranchName, validateRepositoryUrl } from './validation';
import { reviewChanges } from './commands/reviewChanges';
import { gitOk, runGit } from './git/git';
import { RemoteName, RoomConfigKey, memberBranch, remoteUrl, roomBranch, roomNameFor } from './git/localRoom';
import { ConversationCommands } from './commands/conversations';
import { describeRun, type CommandRun } from './commands/commandStream';
import { SharedTerminal } from './terminal/sharedTerminal';
import { isTerminalId } from './terminal/terminalFrames';

interface CurrentRoom {
  readonly id: string;
  readonly name: string;
  readonly role: RoomRole;
}

const RoomStateKey = 'conductor.currentRoom';

/**
 * Owns the session: the state machine, the signed-in user, the current room and its socket, the panel and the
 * `conductor://` file system. Commands call in here; everything the UI shows follows the state machine.
 */
export class SessionController implements vscode.Disposable {
  readonly machine = new SessionStateMachine();
  private api!: ConductorApi;
  private auth!: AuthSession;
  private files!: WorkspaceFiles;
  private conversations: ConversationCommands | undefined;
  private room: CurrentRoom | undefined;
  /** Settles when {@link restore} has finished (the file system waits for it; see ConductorFileSystemProvider). */
  private restored: Promise<unknown> = Promise.resolve();
  private chat: ChatConnection | undefined;
  private readonly panel: CollaborationPanel;
  readonly fileSystem: ConductorFileSystemProvider;
  private readonly statusBar = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  private readonly disposables: vscode.Disposable[] = [];
  private readonly output = vscode.window.createOutputChannel('Conductor');
  private commandOutput: vscode.OutputChannel | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.connect();
    this.fileSystem = new ConductorFileSystemProvider(() => this.files, () => this.restored);
    this.panel = new CollaborationPanel(context.extensionUri, message => void this.onPanelMessage(message));
    this.statusBar.command = 'conductor.openPanel';
    this.disposables.push(
      this.statusBar, this.output, this.panel,
      this.machine.onDidChange((state, previous, event) => {
        this.output.appendLine(`session: ${previous} --${event}--> ${state}`);
        void vscode.commands.executeCommand('setContext', 'conductor.state', state);
        this.render();
      }),
      vscode.workspace.onDidChangeConfiguration(event => {
        if (event.affectsConfiguration('conductor.backendUrl')) {
          this.closeRoom();
          this.machine.reset();
          this.connect();
          void this.auth.restore().then(() => this.render());
        }
      }),
    );
    this.render();
  }

  private get backendUrl(): string {
    return vscode.workspace.getConfiguration('conductor').get<string>('backendUrl', 'http://localhost:5080');
  }

  private get workspaceEnabled(): boolean {
    return vscode.workspace.getConfiguration('conductor').get<boolean>('enableWorkspace', true);
  }

  private connect(): void {
    this.auth?.dispose();
    this.conversations?.dispose();
    const anonymous = new ConductorApi(this.backendUrl);
    this.auth = new AuthSession(anonymous, this.context.secrets);
    this.api = anonymous.withAccessToken(this.auth.accessToken);
    this.files = new WorkspaceFiles(this.api);
    this.conversations = new ConversationCommands(this.api);
    this.auth.onDidEnd(reason => {
      this.closeRoom();
      this.machine.reset();
      if (reason === 'revoked') {
        void vscode.window.showWarningMessage('Your Conductor session was revoked or expired. Run "Conductor: Sign In" again.');
      }
      this.render();
    });
  }

  /** On activation: a session kept in SecretStorage and the room the user was in (e.g. before a window reload). */
  restore(): Promise<void> {
    const restoring = this.restoreSession();
    this.restored = restoring.catch(() => undefined);
    void this.completeWorkspaceFolders().catch(error => this.output.appendLine(`could not check the workspace's folders: ${describeError(error)}`));
    return restoring;
  }

  /**
   * When the window was opened on a workspace file this extension wrote (Open Workspace Folder) but lacks folders the
   * file lists, adds them in place. Why: code-server 4.100.3 on a loaded machine sometimes brought the window up on
   * that workspace with no folders at all ("NO FOLDER OPENED" under the workspace's name; 1 end-to-end run in 4),
   * although the file was complete on disk: the workbench read it before it could (the remote file system was not
   * answering yet) and did not read it again. In a saved workspace `updateWorkspaceFolders` rewrites the file and
   * VS Code applies it without a reload; folders already there are not added twice.
   */
  private async completeWorkspaceFolders(): Promise<void> {
    const file = vscode.workspace.workspaceFile;
    const ours = vscode.Uri.joinPath(this.context.globalStorageUri, 'workspaces');
    if (!file || file.scheme !== ours.scheme || !file.path.startsWith(`${ours.path}/`)) {
      return;
    }
    const listed = workspaceFileFolders(new TextDecoder().decode(await vscode.workspace.fs.readFile(file)));
    const current = vscode.workspace.workspaceFolders ?? [];
    const present = new Set(current.map(folder => folder.uri.toString()));
    const missing = listed
      // VS Code writes folder paths relative to the workspace file when it saves one; ours are absolute.
      .map(entry => ({
        uri: 'uri' in entry ? vscode.Uri.parse(entry.uri)
          : entry.path.startsWith('/') ? vscode.Uri.file(entry.path) : vscode.Uri.joinPath(file, '..', entry.path),
        name: entry.name,
      }))
      .filter(entry => !present.has(entry.uri.toString()));
    if (missing.length > 0) {
      this.output.appendLine(`${new Date().toISOString()} the workspace came back with ${current.length} of its ${listed.length} folders; adding ${missing.map(m => m.uri.toString()).join(', ')}`);
      vscode.workspace.updateWorkspaceFolders(current.length, 0, ...missing);
    }
  }

  private async restoreSession(): Promise<void> {
    const user = await this.auth.restore();
    if (!user) {
      return;
    }
    const saved = this.context.globalState.get<CurrentRoom>(RoomStateKey);
    if (saved) {
      try {
        // The Api is the authority: still a member, still the host, and does the workspace exist?
        const room = await this.api.getRoom(saved.id);
        this.enterRoom({ id: room.room_id, name: room.name, role: room.role }, room.role);
        if (room.role === 'host' && await this.workspaceIsReady(room.room_id)) {
          this.machine.startCreatingWorkspace();
          this.machine.workspaceReady();
        }
      } catch (error) {
        this.output.appendLine(`could not resume room ${saved.id}: ${describeError(error)}`);
        await this.context.globalState.update(RoomStateKey, undefined);
      }
    }
    this.render();
  }

  // Commands -------------------------------------------------------------------------------------------------------

  async signIn(): Promise<void> {
    if (this.auth.isSignedIn) {
      void vscode.window.showInformationMessage(`Already signed in to Conductor as ${this.auth.user?.login}.`);
      return;
    }
    const anonymous = new ConductorApi(this.backendUrl);
    if (await anonymous.isDevLoginEnabled()) {
      const login = await vscode.window.showInputBox({
        title: 'Conductor: Sign In (development login)',
        prompt: 'Your user name (the Api allows dev login: no password)',
        validateInput: value => /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/.test(value) ? undefined : 'Letters, digits and single hyphens, as a GitHub login.',
        ignoreFocusOut: true,
      });
      if (!login) {
        return;
      }
      const user = await this.auth.signIn(await anonymous.devLogin(login));
      void vscode.window.showInformationMessage(`Signed in to Conductor as ${user.login}.`);
    } else {
      await this.signInWithGitHub(anonymous);
    }
    this.render();
  }

  private async signInWithGitHub(anonymous: ConductorApi): Promise<void> {
    const start = await anonymous.startDeviceFlow();
    await vscode.env.clipboard.writeText(start.user_code);
    void vscode.env.openExternal(vscode.Uri.parse(start.verification_uri));
    const deadline = Date.now() + start.expires_in * 1000;
    let interval = Math.max(start.interval, 1);
    const user = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: `Enter the code ${start.user_code} at ${start.verification_uri} (copied to the clipboard)`,
      cancellable: true,
    }, async (_progress, cancel) => {
      while (Date.now() < deadline && !cancel.isCancellationRequested) {
        await new Promise(resolve => setTimeout(resolve, interval * 1000));
        const poll = await anonymous.pollDeviceFlow(start.device_code);
        if (poll.kind === 'tokens') {
          return this.auth.signIn(poll.tokens);
        }
        interval = Math.max(poll.interval, interval);
      }
      return undefined;
    });
    if (user) {
      void vscode.window.showInformationMessage(`Signed in to Conductor as ${user.login}.`);
    } else {
      void vscode.window.showWarningMessage('GitHub sign-in was cancelled or the code expired.');
    }
  }

  async signOut(): Promise<void> {
    if (!this.auth.isSignedIn) {
      void vscode.window.showInformationMessage('Not signed in to Conductor.');
      return;
    }
    this.closeRoom();
    await this.context.globalState.update(RoomStateKey, undefined);
    this.machine.reset();
    const outcome = await this.auth.signOut();
    if (outcome === 'not-shared') {
      void vscode.window.showWarningMessage('Signed out of Conductor here, but not every Conductor server could be told yet: '
        + 'a copy of the old session may keep working on the others for up to 15 minutes.');
    } else {
      void vscode.window.showInformationMessage('Signed out of Conductor.');
    }
    this.render();
  }

  async createRoom(): Promise<void> {
    this.requireSignedIn();
    this.requireIdle();
    const name = await vscode.window.showInputBox({
      title: 'Conductor: Create Room', prompt: 'Room name', ignoreFocusOut: true,
      validateInput: value => value.trim().length === 0 ? 'Give the room a name.' : value.length > 200 ? 'At most 200 characters.' : undefined,
    });
    if (!name) {
      return;
    }
    const created = await this.api.createRoom(name.trim());
    this.enterRoom({ id: created.room_id, name: created.name, role: 'host' }, 'host');
    const choice = await vscode.window.showInformationMessage(`Room "${created.name}" created. You are the host.`, 'Copy Invite Link', 'Create Workspace');
    if (choice === 'Copy Invite Link') {
      await this.copyInvite();
    } else if (choice === 'Create Workspace') {
      await this.createWorkspace();
    }
  }

  async joinRoom(inviteOrToken?: string): Promise<void> {
    this.requireSignedIn();
    this.requireIdle();
    const value = inviteOrToken ?? await vscode.window.showInputBox({
      title: 'Conductor: Join Room', prompt: 'Paste the invite link or token', ignoreFocusOut: true,
      validateInput: text => parseInvite(text) ? undefined : 'Paste an invite link (…/join?token=…) or the token itself.',
    });
    if (!value) {
      return;
    }
    const token = parseInvite(value);
    if (!token) {
      throw new Error('That is not an invite link or token.');
    }
    const joined = await this.api.joinRoom(token);
    const room = await this.api.getRoom(joined.room_id);
    this.enterRoom({ id: room.room_id, name: room.name, role: joined.role }, joined.role);
    void vscode.window.showInformationMessage(`Joined room "${room.name}".`);
  }

  async copyInvite(): Promise<void> {
    const room = this.requireRoom();
    if (room.role !== 'host') {
      throw new Error('Only the host can invite people to this room.');
    }
    const invite = await this.api.createInvite(room.id);
    // The Api's link points at the web app; with no web URL configured it is relative, so give the token too.
    const link = /^https?:\/\//.test(invite.url) ? invite.url : `${this.backendUrl.replace(/\/$/, '')}${invite.url}`;
    await vscode.env.clipboard.writeText(link);
    void vscode.window.showInformationMessage(`Invite link copied (valid until ${new Date(invite.expires_at).toLocaleString()}).`);
  }

  /** The 5-step wizard: repository URL, base branch, token (password box), confirmation (masked token), create. */
  async createWorkspace(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    if (this.machine.state !== 'ReadyToHost') {
      throw new Error(room.role === 'host' ? 'This room already has a workspace.' : 'Only the host creates the room\'s workspace.');
    }
    const title = 'Conductor: Create Workspace';
    const repoUrl = await vscode.window.showInputBox({
      title: `${title} (1/5)`, prompt: 'Repository URL (https or ssh)', placeHolder: 'https://github.com/owner/repo.git',
      validateInput: validateRepositoryUrl, ignoreFocusOut: true,
    });
    if (!repoUrl) {
      return;
    }
    const branch = await vscode.window.showInputBox({
      title: `${title} (2/5)`, prompt: 'Base branch (the session branch starts from it)', value: 'main',
      validateInput: validateBranchName, ignoreFocusOut: true,
    });
    if (!branch) {
      return;
    }
    const token = await vscode.window.showInputBox({
      title: `${title} (3/5)`, prompt: 'Access token for the repository (leave empty for a public one or your GitHub sign-in)',
      password: true, ignoreFocusOut: true,
    });
    if (token === undefined) {
      return;
    }
    const confirm = await vscode.window.showQuickPick([
      { label: 'Create workspace', detail: `${repoUrl.trim()} · ${branch.trim()} · token ${maskToken(token)}` },
      { label: 'Cancel' },
    ], { title: `${title} (4/5): confirm`, ignoreFocusOut: true });
    if (confirm?.label !== 'Create workspace') {
      return;
    }
    this.machine.startCreatingWorkspace();
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `${title} (5/5)` }, async progress => {
        const accepted = await this.api.createWorkspace(room.id, repoUrl.trim(), branch.trim(), token.length > 0 ? token : undefined);
        progress.report({ message: 'Queued' });
        const subscription = this.chat?.on('frame', frame => {
          if (frame.type === 'job' && frame.message) {
            progress.report({ message: frame.message });
          }
        });
        try {
          for (;;) {
            const job = await this.api.getJob(accepted.job_id);
            if (job.status === 'succeeded') {
              break;
            }
            if (job.status === 'failed' || job.status === 'cancelled') {
              throw new Error(job.error ?? 'The clone failed.');
            }
            await new Promise(resolve => setTimeout(resolve, 500));
          }
        } finally {
          subscription?.dispose();
        }
        const workspace = await this.api.getWorkspace(room.id);
        if (workspace.status !== 'ready') {
          throw new Error(workspace.error ?? `The workspace is ${workspace.status}.`);
        }
      });
    } catch (error) {
      this.machine.creationFailed();
      throw new Error(`The workspace could not be created: ${describeError(error)}`);
    }
    this.machine.workspaceReady();
    await this.saveRoom();
    const choice = await vscode.window.showInformationMessage(`Workspace ready on session/${room.id}.`, 'Open Folder', 'Open File');
    if (choice === 'Open Folder') {
      await this.openWorkspaceFolder();
    } else if (choice === 'Open File') {
      await this.openWorkspaceFile();
    }
  }

  /**
   * Adds `conductor://{room}/` to the window's folders. A saved multi-root workspace takes it in place. Otherwise we
   * write a `.code-workspace` file (the window's folders plus the room's) into the extension's global storage and
   * open it: going from one folder to several through `updateWorkspaceFolders` makes VS Code create an *untitled*
   * workspace and reload, and in code-server (VS Code for the web) that untitled workspace came back with no folders
   * after the reload. A workspace file on the server's disk is opened like any other (`?workspace=` in the URL) and
   * survives reloads.
   */
  async openWorkspaceFolder(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const uri = fileUri(room.id, '');
    const name = `Conductor: ${room.name}`;
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (folders.some(folder => folder.uri.toString() === uri.toString())) {
      await vscode.commands.executeCommand('workbench.view.explorer');
      return;
    }
    const workspaceFile = vscode.workspace.workspaceFile;
    if (workspaceFile && workspaceFile.scheme !== 'untitled') {
      vscode.workspace.updateWorkspaceFolders(folders.length, 0, { uri, name });
      await vscode.commands.executeCommand('workbench.view.explorer');
      return;
    }
    const file = vscode.Uri.joinPath(this.context.globalStorageUri, 'workspaces', `${room.id}.code-workspace`);
    const entries: WorkspaceFileFolder[] = [
      ...folders.map(folder => folder.uri.scheme === 'file'
        ? { path: folder.uri.fsPath, name: folder.name }
        : { uri: folder.uri.toString(), name: folder.name }),
      { uri: uri.toString(), name },
    ];
    await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(workspaceFileContent(entries)));
    await vscode.commands.executeCommand('vscode.openFolder', file, { forceNewWindow: false });
  }

  async openWorkspaceFile(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const entries = await this.api.listFiles(room.id, undefined, true);
    const picked = await vscode.window.showQuickPick(entries.filter(e => e.type === 'file').map(e => e.path), {
      title: 'Conductor: Open Workspace File', placeHolder: 'File in the room\'s workspace', ignoreFocusOut: true,
    });
    if (picked) {
      await vscode.window.showTextDocument(fileUri(room.id, picked));
    }
  }

  openPanel(): void {
    this.panel.show();
    this.syncPanel();
  }

  /** Everything the panel shows, sent again (it was just opened, or its WebView reloaded). */
  private syncPanel(): void {
    this.render();
    if (this.auth.isSignedIn) {
      void this.postAiStatus().catch(error => this.panel.post({ type: 'error', message: describeError(error) }));
    }
    if (this.chat) {
      this.panel.post({ type: 'messages', messages: this.chat.log.messages, reset: true });
      this.panel.post({ type: 'presence', users: this.chat.presentUsers });
      this.panel.post({ type: 'connection', status: this.chat.isOpen ? 'connected' : 'reconnecting', detail: null });
    }
  }

  async search(initial?: string): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const query = initial ?? await vscode.window.showInputBox({ title: 'Conductor: Search Workspace', prompt: 'Text to find in the room\'s workspace', ignoreFocusOut: true });
    if (!query) {
      return;
    }
    const hits = await this.api.search(room.id, query, { maxResults: 200 });
    this.panel.post({ type: 'searchResults', query, hits });
    if (initial !== undefined) {
      return;
    }
    const picked = await vscode.window.showQuickPick(hits.map(hit => ({ label: `${hit.file_path}:${hit.line}`, detail: hit.content, hit })), {
      title: `${hits.length} result(s) for ${query}`, ignoreFocusOut: true,
    });
    if (picked) {
      await this.openAt(picked.hit.file_path, picked.hit.line, picked.hit.column);
    }
  }

  async shareSelection(): Promise<void> {
    this.requireRoom();
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) {
      throw new Error('Select some code in an editor first.');
    }
    const { selection, document } = editor;
    const snippet: CodeSnippet = {
      file: document.uri.scheme === 'conductor' ? document.uri.path.replace(/^\//, '') : vscode.workspace.asRelativePath(document.uri),
      language: document.languageId,
      start_line: selection.start.line + 1,
      end_line: selection.end.line + 1,
      code: document.getText(selection),
    };
    await this.requireChat().send({ kind: 'code_snippet', content: snippet });
    void vscode.window.showInformationMessage(`Shared ${snippet.file}:${snippet.start_line}-${snippet.end_line} with the room.`);
  }

  async generateChanges(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    await reviewChanges(this.api, room.id, message => this.output.appendLine(message));
  }

  private requireConversations(): ConversationCommands {
    if (!this.conversations) {
      throw new Error('Not connected to a Conductor Api.');
    }
    return this.conversations;
  }

  async startConversation(): Promise<void> {
    await this.requireConversations().start(this.requireRoom().id);
  }

  async watchConversation(): Promise<void> {
    await this.requireConversations().watch(this.requireRoom().id);
  }

  async stopConversation(): Promise<void> {
    await this.requireConversations().stop(this.requireRoom().id);
  }

  async exportConversation(): Promise<void> {
    await this.requireConversations().export(this.requireRoom().id);
  }

  /** Runs an allowlisted command in the room's sandbox; its output streams into a "Conductor: Commands" channel. */
  async runCommand(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const command = await vscode.window.showInputBox({
      title: 'Conductor: Run Command', prompt: "A command on the room's allowlist (e.g. npm test)", value: 'npm test', ignoreFocusOut: true,
      validateInput: value => value.trim().length === 0 ? 'Write a command.' : undefined,
    });
    if (!command) {
      return;
    }
    const channel = this.commandOutput ??= vscode.window.createOutputChannel('Conductor: Commands');
    channel.show(true);
    channel.appendLine(`$ ${command.trim()}`);
    let run: CommandRun | undefined;
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Running ${command.trim()}…`, cancellable: true },
      (_progress, token) => {
        token.onCancellationRequested(() => {
          if (run) {
            void this.api.cancelCommand(room.id, run.id).catch(error => channel.appendLine(`could not cancel: ${describeError(error)}`));
          }
        });
        return this.api.runCommand(room.id, command.trim(), event => {
          if (event.event === 'output') {
            const piece = JSON.parse(event.data) as { text?: string };
            channel.append(piece.text ?? '');
          } else if (event.event === 'started' || event.event === 'finished') {
            run = JSON.parse(event.data) as CommandRun;
          }
        });
      });
    if (run) {
      channel.appendLine(`\n[${describeRun(run)}]`);
      const say = run.status === 'succeeded' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
      void say(describeRun(run));
    }
  }

  /** Opens (host) or watches (member) the room's shared terminal as a VS Code terminal. */
  async openTerminal(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const terminalId = await vscode.window.showInputBox({
      title: 'Conductor: Open Shared Terminal', prompt: 'Terminal name', value: 'main', ignoreFocusOut: true,
      validateInput: value => isTerminalId(value) ? undefined : "1 to 64 of a-z, 0-9 and '-'.",
    });
    if (!terminalId) {
      return;
    }
    const pty = new SharedTerminal(async (cols, rows) => this.api.terminalSocket(room.id, terminalId, await this.auth.accessToken(), cols, rows));
    vscode.window.createTerminal({ name: `Conductor: ${terminalId}`, pty }).show();
  }

  async commitAndPush(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const message = await vscode.window.showInputBox({
      title: 'Conductor: Commit and Push', prompt: 'Commit message', ignoreFocusOut: true,
      validateInput: value => value.trim().length === 0 ? 'Write a commit message.' : undefined,
    });
    if (!message) {
      return;
    }
    const outcome = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Committing and pushing…' },
      () => this.api.commit(room.id, message.trim(), true, 120));
    if ('job_id' in outcome) {
      void vscode.window.showInformationMessage(`The commit is still running (job ${outcome.job_id}).`);
    } else if (!outcome.committed) {
      void vscode.window.showInformationMessage(`Nothing committed: ${outcome.reason}.`);
    } else if (outcome.pushed) {
      void vscode.window.showInformationMessage(`Committed ${outcome.commit.slice(0, 12)} and pushed session/${room.id}.`);
    } else {
      void vscode.window.showWarningMessage(`Committed ${outcome.commit.slice(0, 12)}, but the push was refused: ${outcome.push_error ?? 'unknown reason'}.`);
    }
  }

  /**
   * A room from the open folder's git repository, through the room's git remote: the room is created, the folder's
   * HEAD is pushed to `session/{room}` with the signed-in session answering git's credential request (no token is
   * asked for, and the server never sees the folder's own remote credentials), and the folder remembers the room.
   */
  async createRoomFromFolder(): Promise<void> {
    this.requireSignedIn();
    this.requireIdle();
    const folder = await this.gitFolder();
    if ((await runGit(folder, ['rev-parse', '--verify', 'HEAD'])).code !== 0) {
      throw new Error('The folder\'s repository has no commit yet: commit something first.');
    }
    const created = await this.api.createRoom(roomNameFor(folder));
    const url = remoteUrl(this.backendUrl, created.room_id);
    const remotes = (await gitOk(folder, ['remote'])).split('\n').filter(Boolean);
    await gitOk(folder, remotes.includes(RemoteName) ? ['remote', 'set-url', RemoteName, url] : ['remote', 'add', RemoteName, url]);
    await gitOk(folder, ['config', '--local', RoomConfigKey, created.room_id]);
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Pushing ${created.name} to the room…` },
      () => gitOk(folder, ['push', RemoteName, `HEAD:refs/heads/${roomBranch(created.room_id)}`], this.gitCredentials()));
    this.enterRoom({ id: created.room_id, name: created.name, role: 'host' }, 'host');
    const choice = await vscode.window.showInformationMessage(`Room "${created.name}" is up with this folder's repository. You are the host.`, 'Copy Invite Link');
    if (choice === 'Copy Invite Link') {
      await this.copyInvite();
    }
  }

  /**
   * Conductor: Sync. In a folder set up for this room: local changes are committed, pushed to the member's branch, merged
   * into the room's branch by the server, and the folder is fast-forwarded to the result. Otherwise the member's own
   * worktree on the server is synced.
   */
  async sync(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const outcome = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Syncing with the room…' },
      () => this.syncCore(room.id));
    void vscode.window.showInformationMessage(describeSync(outcome));
  }

  /** Conductor: Publish. Sync, then push: the folder to its own `origin` for a room made from it, else the server pushes to origin. */
  async publish(): Promise<void> {
    this.requireWorkspaceEnabled();
    const room = this.requireRoom();
    const folder = await this.roomFolder(room.id);
    if (folder) {
      const outcome = await this.syncCore(room.id);
      const branch = (await gitOk(folder, ['rev-parse', '--abbrev-ref', 'HEAD'])).trim();
      if (branch === 'HEAD') {
        throw new Error('The folder is on a detached HEAD: check out the branch to publish to.');
      }
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Pushing ${branch} to origin…` },
        () => gitOk(folder, ['push', 'origin', `HEAD:refs/heads/${branch}`]));
      void vscode.window.showInformationMessage(`${describeSync(outcome)} Pushed ${branch} to origin.`);
      return;
    }
    const published = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Publishing…' },
      () => this.api.publish(room.id));
    if (published.pushed) {
      void vscode.window.showInformationMessage(`${describeSync(published.sync)} The server pushed the room's branch to origin.`);
    } else {
      void vscode.window.showWarningMessage(`${describeSync(published.sync)} The push was refused: ${published.push_error ?? 'unknown reason'}.`);
    }
  }

  private async syncCore(roomId: string): Promise<SyncOutcome> {
    const folder = await this.roomFolder(roomId);
    if (!folder) {
      return await this.api.sync(roomId);
    }
    const login = this.auth.user?.login;
    if (!login) {
      throw new NotSignedInError();
    }
    if ((await gitOk(folder, ['status', '--porcelain'])).trim().length > 0) {
      await gitOk(folder, ['add', '--all']);
      await gitOk(folder, ['commit', '--quiet', '-m', `Work by ${login}`]);
    }
    await gitOk(folder, ['push', '--quiet', RemoteName, `HEAD:refs/heads/${memberBranch(roomId, login)}`], this.gitCredentials());
    const outcome = await this.api.sync(roomId);
    await gitOk(folder, ['fetch', '--quiet', RemoteName], this.gitCredentials());
    await gitOk(folder, ['merge', '--quiet', '--ff-only', `${RemoteName}/${roomBranch(roomId)}`]);
    return outcome;
  }

  /** The open folder, if its repository is set up for this room (by Create Room from Folder or `conductor up`). */
  private async roomFolder(roomId: string): Promise<string | undefined> {
    const folder = vscode.workspace.workspaceFolders?.find(f => f.uri.scheme === 'file')?.uri.fsPath;
    if (!folder) {
      return undefined;
    }
    const configured = await runGit(folder, ['config', '--get', RoomConfigKey]).catch(() => undefined);
    return configured?.code === 0 && configured.stdout.trim() === roomId ? folder : undefined;
  }

  private async gitFolder(): Promise<string> {
    const folder = vscode.workspace.workspaceFolders?.find(f => f.uri.scheme === 'file')?.uri.fsPath;
    if (!folder) {
      throw new Error('Open the folder of a git repository first.');
    }
    const top = await runGit(folder, ['rev-parse', '--show-toplevel']);
    if (top.code !== 0) {
      throw new Error('The open folder is not in a git repository.');
    }
    return top.stdout.trim();
  }

  private gitCredentials(): { backendUrl: string; login: string; accessToken: () => Promise<string> } {
    const login = this.auth.user?.login;
    if (!login) {
      throw new NotSignedInError();
    }
    return { backendUrl: this.backendUrl, login, accessToken: () => this.auth.accessToken() };
  }

  async leaveSession(): Promise<void> {
    const room = this.requireRoom();
    this.closeRoom();
    if (this.machine.can('leaveSession')) {
      this.machine.leaveSession();
    } else {
      this.machine.reset();
    }
    await this.context.globalState.update(RoomStateKey, undefined);
    void vscode.window.showInformationMessage(`Left the session in "${room.name}".`);
    this.render();
  }

  /** Runs a command body and turns any failure into one readable notification (never a token or a stack). */
  async run(name: string, body: () => Promise<void> | void): Promise<void> {
    // Start and end of every command in the Conductor output channel: what a user (or a test's failure report) reads
    // to see whether a command finished, failed or is still waiting on the Api.
    this.output.appendLine(`${new Date().toISOString()} ${name}: started`);
    try {
      await body();
      this.output.appendLine(`${new Date().toISOString()} ${name}: done`);
    } catch (error) {
      this.output.appendLine(`${name} failed: ${describeError(error)}`);
      let message = describeError(error);
      if (error instanceof ApiError && error.status === 401) {
        message = 'Your Conductor session is no longer valid. Run "Conductor: Sign In" again.';
      } else if (error instanceof BackendUnreachableError) {
        message = error.message;
      }
      void vscode.window.showErrorMessage(`Conductor: ${message}`);
    }
  }

  dispose(): void {
    this.closeRoom();
    this.auth.dispose();
    this.conversations?.dispose();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  // Room and socket ------------------------------------------------------------------------------------------------

  private enterRoom(room: CurrentRoom, role: RoomRole): void {
    this.room = room;
    if (role === 'host') {
      this.machine.setReadyToHost();
    } else {
      this.machine.join();
    }
    void this.saveRoom();
    const chat = new ChatConnection(this.api, this.auth.accessToken, room.id);
    this.chat = chat;
    chat.on('messages', added => this.panel.post({ type: 'messages', messages: added, reset: false }));
    chat.on('presence', users => this.panel.post({ type: 'presence', users }));
    chat.on('typing', (login, userId) => {
      if (userId !== this.auth.user?.id) {
        this.panel.post({ type: 'typing', login });
      }
    });
    chat.on('connected', () => {
      if (this.machine.state === 'BackendDisconnected') {
        this.machine.backendReconnected();
      }
      this.panel.post({ type: 'connection', status: 'connected', detail: null });
    });
    chat.on('disconnected', retryInMs => {
      if (this.machine.can('backendLost')) {
        this.machine.backendLost();
      }
      this.panel.post({ type: 'connection', status: 'reconnecting', detail: `retrying in ${Math.ceil(retryInMs / 1000)} s` });
    });
    chat.on('closed', reason => {
      this.panel.post({ type: 'connection', status: 'closed', detail: reason });
      void vscode.window.showWarningMessage(`Conductor: the room connection closed: ${reason}`);
    });
    chat.on('frame', frame => {
      // Our own writes come back too (the event names the user, not the editor): VS Code re-stats and sees no change.
      if (frame.type === 'file_changed') {
        this.fileSystem.notifyRemoteChange(frame.room_id, frame.path, frame.change, frame.from);
      } else if (frame.type === 'room_ended') {
        void vscode.window.showInformationMessage('The host ended this room; it is read-only now.');
      } else if (frame.type === 'error') {
        this.panel.post({ type: 'error', message: frame.message });
      } else if (frame.type === 'ai_start') {
        this.panel.post({ type: 'chatAiStart', id: frame.message_id, login: frame.login, provider: frame.provider });
      } else if (frame.type === 'ai_token') {
        this.panel.post({ type: 'chatAiToken', id: frame.message_id, index: frame.index, text: frame.text });
      } else if (frame.type === 'ai_tool') {
        this.panel.post({ type: 'chatAiTool', id: frame.message_id, detail: frame.detail ? `${frame.name}: ${frame.detail}` : frame.name });
      } else if (frame.type === 'ai_done') {
        this.panel.post({ type: 'chatAiDone', id: frame.message_id, status: frame.status, error: frame.error ?? null });
      }
    });
    chat.start().catch(error => {
      this.output.appendLine(`chat start failed: ${describeError(error)}`);
      this.panel.post({ type: 'error', message: describeError(error) });
    });
    this.render();
  }

  private closeRoom(): void {
    this.chat?.dispose();
    this.chat = undefined;
    this.room = undefined;
    this.panel.post({ type: 'messages', messages: [], reset: true });
    this.panel.post({ type: 'presence', users: [] });
  }

  private async saveRoom(): Promise<void> {
    if (this.room) {
      await this.context.globalState.update(RoomStateKey, this.room);
    }
  }

  private async workspaceIsReady(roomId: string): Promise<boolean> {
    try {
      return (await this.api.getWorkspace(roomId)).status === 'ready';
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        return false;
      }
      throw error;
    }
  }

  private async onPanelMessage(message: WebviewToHost): Promise<void> {
    await this.run(`panel ${message.type}`, async () => {
      switch (message.type) {
        case 'ready':
          this.syncPanel();
          return;
        case 'send':
          await this.requireChat().send({ content: message.text, kind: 'text' });
          return;
        case 'typing':
          this.chat?.typing();
          return;
        case 'chatAiStop':
          this.requireChat().stopAnswer(message.id);
          return;
        case 'search':
          await this.search(message.query);
          return;
        case 'openHit':
          await this.openAt(message.path, message.line, message.column);
          return;
        case 'upload':
          await this.upload(message.name, message.contentType, Buffer.from(message.base64, 'base64'));
          return;
        case 'aiRefresh':
          await this.postAiStatus();
          return;
        case 'aiSelect':
          await this.api.selectProvider(message.name);
          await this.postAiStatus();
          return;
        case 'aiAsk':
          try {
            await this.api.infer(message.prompt, token => this.panel.post({ type: 'aiToken', token }));
            this.panel.post({ type: 'aiDone', error: null });
          } catch (error) {
            this.panel.post({ type: 'aiDone', error: describeError(error) });
          }
          return;
      }
    });
  }

  private async postAiStatus(): Promise<void> {
    const status = await this.api.aiStatus();
    this.panel.post({ type: 'aiStatus', providers: status.providers, active: status.active_provider });
  }

  /** Upload proxied through the host (the WebView makes no requests), retried with exponential backoff. */
  private async upload(name: string, contentType: string, bytes: Uint8Array): Promise<void> {
    const room = this.requireRoom();
    if (bytes.length > MaxUploadBytes) {
      this.panel.post({ type: 'uploadResult', ok: false, message: uploadTooLargeMessage(name, bytes.length) });
      return;
    }
    try {
      const uploaded = await withRetry(() => this.api.uploadFile(room.id, name, bytes, contentType), {
        attempts: 3, baseMs: 1000, maxMs: 4000,
        retryable: error => error instanceof BackendUnreachableError || (error instanceof ApiError && (error.status >= 500 || error.status === 429)),
        onRetry: (attempt, delay) => this.panel.post({ type: 'uploadResult', ok: false, message: `Upload failed, retrying in ${Math.ceil(delay / 1000)} s (attempt ${attempt + 1} of 3)…` }),
      });
      this.panel.post({ type: 'uploadResult', ok: true, message: `Shared ${uploaded.filename}.` });
    } catch (error) {
      const message = error instanceof ApiError && error.status === 413 ? uploadTooLargeMessage(name, bytes.length) : `Upload failed: ${describeError(error)}`;
      this.panel.post({ type: 'uploadResult', ok: false, message });
    }
  }

  private async openAt(path: string, line: number, column: number): Promise<void> {
    const room = this.requireRoom();
    const position = new vscode.Position(line - 1, Math.max(column - 1, 0));
    await vscode.window.showTextDocument(fileUri(room.id, path), { selection: new vscode.Range(position, position) });
  }

  private render(): void {
    const user = this.auth.user;
    const state = this.machine.state;
    this.statusBar.text = user ? `$(organization) Conductor: ${state}${this.room ? ` · ${this.room.name}` : ''}` : '$(organization) Conductor: signed out';
    this.statusBar.tooltip = user ? `Signed in as ${user.login}` : 'Run "Conductor: Sign In"';
    this.statusBar.show();
    this.panel.post({ type: 'state', state, login: user?.login ?? null, roomName: this.room?.name ?? null, roomId: this.room?.id ?? null });
  }

  private requireSignedIn(): void {
    if (!this.auth.isSignedIn) {
      throw new NotSignedInError();
    }
  }

  private requireIdle(): void {
    if (this.machine.state !== 'Idle') {
      throw new Error(`You are already in a room (${this.machine.state}). Run "Conductor: Leave Session" first.`);
    }
  }

  private requireRoom(): CurrentRoom {
    this.requireSignedIn();
    if (!this.room) {
      throw new Error('You are not in a room. Create or join one first.');
    }
    return this.room;
  }

  private requireChat(): ChatConnection {
    this.requireRoom();
    return this.chat!;
  }

  private requireWorkspaceEnabled(): void {
    if (!this.workspaceEnabled) {
      throw new Error('The workspace features are turned off (conductor.enableWorkspace).');
    }
  }
}

function describeSync(outcome: SyncOutcome): string {
  switch (outcome.status) {
    case 'up_to_date':
      return `Nothing new to merge; ${outcome.branch} is at ${outcome.head_commit.slice(0, 12)}.`;
    case 'fast_forward':
      return `${outcome.branch} moved forward to your work (${outcome.head_commit.slice(0, 12)}).`;
    default:
      return `Merged your work into ${outcome.branch} (${outcome.head_commit.slice(0, 12)}).`;
  }
}
