import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, type HostToWebview, type WebviewToHost } from './messages';

export const PanelViewType = 'conductor.panel';

/**
 * The collaboration panel: a WebView (chat, members, search, upload) that talks to the extension host only through
 * typed messages. Its Content Security Policy allows nothing but our own script (by nonce) and styles: the WebView
 * makes no network request; the host does every Api call.
 */
export class CollaborationPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private queue: HostToWebview[] = [];
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly onMessage: (message: WebviewToHost) => void,
  ) {}

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside);
      return;
    }
    const panel = vscode.window.createWebviewPanel(PanelViewType, 'Conductor', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist')],
    });
    this.panel = panel;
    this.ready = false;
    panel.webview.html = this.html(panel.webview);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const message = parseWebviewMessage(raw);
        if (!message) {
          return;
        }
        if (message.type === 'ready') {
          this.ready = true;
          const pending = this.queue;
          this.queue = [];
          for (const item of pending) {
            void panel.webview.postMessage(item);
          }
        }
        this.onMessage(message);
      }),
      panel.onDidDispose(() => {
        this.panel = undefined;
        this.ready = false;
        this.queue = [];
      }),
    );
  }

  post(message: HostToWebview): void {
    if (!this.panel) {
      return;
    }
    if (!this.ready) {
      this.queue.push(message);
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    this.panel?.dispose();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}' ${webview.cspSource}`,
      `style-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource} data:`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Conductor</title>
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 8px; }
  #status { font-size: 0.9em; opacity: 0.8; margin: 4px 0; }
  #connection[data-status="reconnecting"] { color: var(--vscode-errorForeground); }
  #messages { list-style: none; padding: 0; max-height: 50vh; overflow-y: auto; }
  #messages li { margin: 4px 0; }
  #messages .login { font-weight: bold; margin-right: 4px; }
  #messages pre { background: var(--vscode-textCodeBlock-background); padding: 4px; overflow-x: auto; }
  #messages .ai-answer .text { white-space: pre-wrap; }
  #messages .ai-answer .tool { opacity: .7; font-size: .9em; }
  #members { list-style: none; padding: 0; display: flex; gap: 8px; flex-wrap: wrap; }
  #answer { white-space: pre-wrap; }
  textarea, input[type=text], select { width: 100%; box-sizing: border-box; background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, transparent); }
  button { background: var(--vscode-button-background); color: var(--vscode-button-foreground); border: none; padding: 4px 10px; margin: 4px 4px 4px 0; cursor: pointer; }
  #results button { background: none; color: var(--vscode-textLink-foreground); padding: 0; text-align: left; }
  .error { color: var(--vscode-errorForeground); }
</style>
</head>
<body>
<div id="status" role="status"></div>
<div id="connection" role="status" data-status="connected"></div>
<h2>Members</h2>
<ul id="members" aria-label="Members online"></ul>
<h2>Chat</h2>
<ul id="messages" aria-label="Messages"></ul>
<div id="typing" aria-live="polite"></div>
<label for="message">Message</label>
<textarea id="message" rows="3"></textarea>
<button id="send">Send</button>
<label for="upload">Share a file</label>
<input id="upload" type="file">
<div id="uploadResult" role="status"></div>
<h2>Search</h2>
<label for="query">Search the workspace</label>
<input id="query" type="text">
<button id="search">Search</button>
<ul id="results" aria-label="Search results"></ul>
<h2>AI</h2>
<ul id="providers" aria-label="AI providers"></ul>
<label for="provider">AI provider</label>
<select id="provider"></select>
<button id="refreshAi">Refresh</button>
<label for="prompt">Ask the AI</label>
<textarea id="prompt" rows="2"></textarea>
<button id="ask">Ask</button>
<div id="answer" aria-label="AI answer" aria-live="polite"></div>
<div id="error" class="error" role="alert"></div>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }
}
