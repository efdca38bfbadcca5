/**
 * Chromium for browser tests of the board (a helper, not a test). Uses the system
 * Chromium from apt; playwright-core downloads nothing.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The demo accounts' password (identity-contract.md: `duty`, `leader`, `admin`, `unit-<unit id>`). */
export const DEMO_PASSWORD = 'huiying-demo';

/** Logs in through the console's log-in page and waits for the role's home to show (an el-input's test id sits on its <input>). */
export async function logIn(page: Page, baseUrl: string, username: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto(`${baseUrl}#/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('whoami').waitFor();
}
