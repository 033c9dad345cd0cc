import type { Frame, Page } from 'playwright-core';

/** Drives VS Code's workbench the way a person does: the command palette, quick inputs, notifications. */
export class Workbench {
  constructor(readonly page: Page) {}

  async ready(): Promise<void> {
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    // The extension activates on startup; its status bar item is the sign that commands are registered.
    await this.page.locator('.statusbar-item', { hasText: 'Conductor' }).first().waitFor({ timeout: 90_000 });
  }

  /** F1, the command's palette title, Enter. `keepSelection`: no Escape first (in an editor it clears the selection). */
  async runCommand(title: string, options: { keepSelection?: boolean } = {}): Promise<void> {
    if (!options.keepSelection) {
      await this.page.keyboard.press('Escape');
    }
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    await this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
    await this.page.keyboard.press('Enter');
  }

  /** Waits for a quick input whose title contains `title`, types `value` and presses Enter. */
  async answer(title: string | RegExp, value: string): Promise<void> {
    await this.page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ state: 'visible' });
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.fill(value);
    // The input validates as the user types: give it a moment to accept before Enter.
    await this.page.waitForTimeout(150);
    await this.page.keyboard.press('Enter');
  }

  /** Waits for a quick pick titled `title`, filters to `item` and picks it. */
  async pick(title: string | RegExp, item: string): Promise<void> {
    await this.page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ state: 'visible' });
    await this.page.locator('.quick-input-widget .quick-input-box input').fill(item);
    await this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: item }).first().waitFor();
    await this.page.keyboard.press('Enter');
  }

  /** The text of the first notification matching `text` (toasts, which stay until dismissed or timed out). */
  async notification(text: string | RegExp, timeout = 60_000): Promise<string> {
    const toast = this.page.locator('.notifications-toasts .notification-list-item-message', { hasText: text }).first();
    await toast.waitFor({ timeout });
    return (await toast.textContent()) ?? '';
  }

  async notificationTexts(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-list-item-message').allTextContents();
  }

  /** The WebView frame that holds `selector` (VS Code nests the content in two iframes). */
  async webviewFrame(selector: string, timeout = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeout;
    for (;;) {
      for (const frame of this.page.frames()) {
        if (await frame.$(selector).catch(() => null)) {
          return frame;
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`No WebView frame with ${selector}`);
      }
      await this.page.waitForTimeout(200);
    }
  }
}
