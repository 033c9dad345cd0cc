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
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    const row = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: title }).first();
    // The palette closes when something else takes the focus (the Explorer revealing a file after a command that
    // showed it, on a loaded machine more than a second later): open it again rather than type into a hidden box.
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('F1');
      try {
        await input.waitFor({ state: 'visible', timeout: 15_000 });
        await input.fill(`>${title}`, { timeout: 15_000 });
        await row.waitFor({ timeout: 30_000 });
        break;
      } catch (error) {
        if (attempt >= 3) {
          throw error;
        }
        await this.page.keyboard.press('Escape');
      }
    }
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

  /**
   * The text of the first notification matching `text`: its toast, or else its entry in the notification center.
   * Why the center too: VS Code shows at most 3 new toasts per 800 ms and puts any further notification only in the
   * center (NotificationsToasts' spam protection, code-server 4.100.3's workbench: `increment() > 3`). Leave Session,
   * Join Room and Sign Out in quick succession are three toasts, and a fast machine fits a fourth into that window:
   * "signs out and revokes the session" then failed with the sign-out done (status bar "signed out", the revoke in
   * the Api's log) and no toast, in 2 runs of about 10 on the shared machine and in CI.
   */
  async notification(text: string | RegExp, timeout = 60_000): Promise<string> {
    const toast = this.page.locator('.notifications-toasts .notification-list-item-message', { hasText: text }).first();
    const deadline = Date.now() + timeout;
    try {
      await toast.waitFor({ timeout: Math.min(timeout, 10_000) });
      return (await toast.textContent()) ?? '';
    } catch {
      // Not (or not yet) a toast: look in the center, then keep watching both until the deadline.
    }
    for (;;) {
      const inCenter = await this.notificationInCenter(text);
      if (inCenter !== undefined) {
        return inCenter;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`No notification matching ${String(text)} within ${timeout} ms (neither a toast nor in the notification center).`);
      }
      try {
        await toast.waitFor({ timeout: Math.min(left, 5_000) });
        return (await toast.textContent()) ?? '';
      } catch {
        // Look in the center again.
      }
    }
  }

  /** Opens the notification center, reads the first entry matching `text` (if any) and closes it again. */
  private async notificationInCenter(text: string | RegExp): Promise<string | undefined> {
    await this.runCommand('Notifications: Show Notifications');
    const center = this.page.locator('.notifications-center');
    await center.waitFor({ timeout: 10_000 }).catch(() => undefined);
    const entry = center.locator('.notification-list-item-message', { hasText: text }).first();
    const found = await entry.isVisible() ? (await entry.textContent()) ?? '' : undefined;
    await this.hideNotificationCenter();
    return found;
  }

  /** Escape closes the center (it has the focus once shown); the status bar's bell toggles it otherwise. */
  private async hideNotificationCenter(): Promise<void> {
    const center = this.page.locator('.notifications-center');
    await this.page.keyboard.press('Escape');
    if (await center.isVisible()) {
      await this.page.locator('.statusbar-item[id="status.notifications"]').first().click({ timeout: 5_000 }).catch(() => undefined);
    }
  }

  async notificationTexts(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-list-item-message').allTextContents();
  }

  /**
   * Everything in the notification center (toasts included, and those VS Code added without a toast), for a failure
   * report: a message that is there but never showed as a toast is a different fault from one never sent.
   */
  async notificationCenterTexts(): Promise<string[]> {
    await this.runCommand('Notifications: Show Notifications');
    const center = this.page.locator('.notifications-center .notification-list-item-message');
    await center.first().waitFor({ timeout: 5_000 }).catch(() => undefined);
    const texts = await center.allTextContents();
    await this.hideNotificationCenter();
    return texts;
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
