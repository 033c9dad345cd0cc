// The collaboration panel's script (runs inside the WebView, bundled for the browser). It renders what the host
// posts and posts the user's actions back; it never talks to the network itself.
import type { ChatMessage, CodeSnippet, FileAttachment } from '../api/types';
import { MaxUploadBytes, uploadTooLargeMessage, type HostToWebview, type WebviewToHost } from '../panel/messages';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) {
    throw new Error(`missing #${id}`);
  }
  return found as T;
}

const status = element<HTMLDivElement>('status');
const connection = element<HTMLDivElement>('connection');
const members = element<HTMLUListElement>('members');
const messages = element<HTMLUListElement>('messages');
const typing = element<HTMLDivElement>('typing');
const input = element<HTMLTextAreaElement>('message');
const send = element<HTMLButtonElement>('send');
const upload = element<HTMLInputElement>('upload');
const uploadResult = element<HTMLDivElement>('uploadResult');
const query = element<HTMLInputElement>('query');
const search = element<HTMLButtonElement>('search');
const results = element<HTMLUListElement>('results');
const error = element<HTMLDivElement>('error');
const providers = element<HTMLUListElement>('providers');
const provider = element<HTMLSelectElement>('provider');
const refreshAi = element<HTMLButtonElement>('refreshAi');
const prompt = element<HTMLTextAreaElement>('prompt');
const ask = element<HTMLButtonElement>('ask');
const answer = element<HTMLDivElement>('answer');

refreshAi.addEventListener('click', () => vscode.postMessage({ type: 'aiRefresh' }));
provider.addEventListener('change', () => vscode.postMessage({ type: 'aiSelect', name: provider.value }));
ask.addEventListener('click', () => {
  if (prompt.value.trim().length > 0) {
    answer.textContent = '';
    ask.disabled = true;
    vscode.postMessage({ type: 'aiAsk', prompt: prompt.value });
  }
});

let typingTimer: ReturnType<typeof setTimeout> | undefined;
let lastTypingSent = 0;

function sendMessage(): void {
  const text = input.value;
  if (text.trim().length === 0) {
    return;
  }
  vscode.postMessage({ type: 'send', text });
  input.value = '';
}

send.addEventListener('click', sendMessage);
input.addEventListener('keydown', event => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    sendMessage();
    return;
  }
  const now = Date.now();
  if (now - lastTypingSent > 2000) {
    lastTypingSent = now;
    vscode.postMessage({ type: 'typing' });
  }
});

function runSearch(): void {
  if (query.value.length > 0) {
    vscode.postMessage({ type: 'search', query: query.value });
  }
}
search.addEventListener('click', runSearch);
query.addEventListener('keydown', event => {
  if (event.key === 'Enter') {
    runSearch();
  }
});

upload.addEventListener('change', () => {
  const file = upload.files?.[0];
  if (!file) {
    return;
  }
  if (file.size > MaxUploadBytes) {
    // Said here, before the bytes cross to the host (which checks again).
    uploadResult.textContent = uploadTooLargeMessage(file.name, file.size);
    uploadResult.className = 'error';
    upload.value = '';
    return;
  }
  uploadResult.className = '';
  uploadResult.textContent = `Uploading ${file.name}…`;
  void file.arrayBuffer().then(buffer => {
    vscode.postMessage({ type: 'upload', name: file.name, contentType: file.type || 'application/octet-stream', base64: toBase64(buffer), size: file.size });
    upload.value = '';
  });
});

function toBase64(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function renderMessage(message: ChatMessage): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.id = message.id;
  const who = document.createElement('span');
  who.className = 'login';
  who.textContent = message.login ?? 'Conductor';
  item.append(who);
  if (message.kind === 'code_snippet' && typeof message.content === 'object') {
    const snippet = message.content as CodeSnippet;
    const caption = document.createElement('span');
    caption.textContent = `${snippet.file}:${snippet.start_line}-${snippet.end_line}`;
    const pre = document.createElement('pre');
    pre.textContent = snippet.code;
    item.append(caption, pre);
  } else if (message.kind === 'file' && typeof message.content === 'object') {
    const file = message.content as FileAttachment;
    const text = document.createElement('span');
    text.textContent = `shared ${file.name}`;
    item.append(text);
  } else {
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = typeof message.content === 'string' ? message.content : JSON.stringify(message.content);
    item.append(text);
  }
  return item;
}

/** A streamed AI answer in the chat: grows token by token, shows the tool in use, and has a Stop button until done. */
function answerItem(id: string): HTMLLIElement | undefined {
  return Array.from(messages.querySelectorAll<HTMLLIElement>('li.ai-answer')).find(item => item.dataset.answer === id);
}

function startAnswer(id: string, login: string, provider: string): void {
  if (answerItem(id)) {
    return;
  }
  const item = document.createElement('li');
  item.className = 'ai-answer streaming';
  item.dataset.answer = id;
  item.dataset.next = '0';
  const who = document.createElement('span');
  who.className = 'login';
  who.textContent = `${login} (${provider})`;
  const text = document.createElement('span');
  text.className = 'text';
  const tool = document.createElement('div');
  tool.className = 'tool';
  const stop = document.createElement('button');
  stop.className = 'stop';
  stop.textContent = 'Stop';
  stop.addEventListener('click', () => {
    stop.disabled = true;
    vscode.postMessage({ type: 'chatAiStop', id });
  });
  item.append(who, text, tool, stop);
  messages.append(item);
  messages.scrollTop = messages.scrollHeight;
}

window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'state':
      status.textContent = message.login
        ? `${message.login} · ${message.state}${message.roomName ? ` · ${message.roomName}` : ''}`
        : 'Not signed in';
      break;
    case 'messages':
      if (message.reset) {
        messages.replaceChildren();
      }
      for (const chat of message.messages) {
        // A stored AI answer takes the place of its streamed form.
        const streamed = answerItem(chat.id);
        if (streamed) {
          streamed.replaceWith(renderMessage(chat));
        } else {
          messages.append(renderMessage(chat));
        }
      }
      messages.scrollTop = messages.scrollHeight;
      break;
    case 'presence':
      members.replaceChildren(...message.users.map(user => {
        const item = document.createElement('li');
        item.textContent = user.login;
        return item;
      }));
      break;
    case 'typing':
      typing.textContent = `${message.login} is typing…`;
      if (typingTimer) {
        clearTimeout(typingTimer);
      }
      typingTimer = setTimeout(() => { typing.textContent = ''; }, 3000);
      break;
    case 'connection':
      connection.dataset.status = message.status;
      connection.textContent = message.status === 'connected' ? 'Connected' : message.status === 'reconnecting'
        ? `Reconnecting… ${message.detail ?? ''}` : `Disconnected: ${message.detail ?? ''}`;
      break;
    case 'searchResults':
      results.replaceChildren(...message.hits.map(hit => {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.textContent = `${hit.file_path}:${hit.line} ${hit.content}`;
        button.addEventListener('click', () => vscode.postMessage({ type: 'openHit', path: hit.file_path, line: hit.line, column: hit.column }));
        item.append(button);
        return item;
      }));
      if (message.hits.length === 0) {
        const item = document.createElement('li');
        item.textContent = `No results for ${message.query}`;
        results.append(item);
      }
      break;
    case 'uploadResult':
      uploadResult.textContent = message.message;
      uploadResult.className = message.ok ? '' : 'error';
      break;
    case 'aiStatus':
      providers.replaceChildren(...message.providers.map(p => {
        const item = document.createElement('li');
        item.textContent = `${p.name} (${p.kind}, ${p.model}): ${p.available ? `available, ${p.latency_ms ?? '?'} ms` : `unavailable${p.error ? ` (${p.error})` : ''}`}`;
        return item;
      }));
      provider.replaceChildren(...message.providers.map(p => {
        const option = document.createElement('option');
        option.value = p.name;
        option.textContent = p.name;
        option.disabled = !p.available;
        option.selected = p.name === message.active;
        return option;
      }));
      break;
    case 'aiToken':
      answer.textContent += message.token;
      break;
    case 'aiDone':
      ask.disabled = false;
      if (message.error) {
        answer.textContent += `\n[${message.error}]`;
      }
      break;
    case 'chatAiStart':
      startAnswer(message.id, message.login, message.provider);
      break;
    case 'chatAiToken': {
      const item = answerItem(message.id);
      if (item && message.index >= Number(item.dataset.next)) {
        item.dataset.next = String(message.index + 1);
        item.querySelector('.text')!.textContent += message.text;
        item.querySelector('.tool')!.textContent = '';
        messages.scrollTop = messages.scrollHeight;
      }
      break;
    }
    case 'chatAiTool': {
      const item = answerItem(message.id);
      if (item) {
        item.querySelector('.tool')!.textContent = `Using ${message.detail}…`;
      }
      break;
    }
    case 'chatAiDone': {
      const item = answerItem(message.id);
      if (item) {
        item.className = `ai-answer ${message.status}`;
        item.querySelector('.stop')?.remove();
        item.querySelector('.tool')!.textContent = message.status === 'stopped' ? 'Stopped.'
          : message.status === 'failed' ? `No answer: ${message.error ?? 'the provider failed'}` : '';
      }
      break;
    }
    case 'error':
      error.textContent = message.message;
      break;
  }
});

vscode.postMessage({ type: 'ready' });
