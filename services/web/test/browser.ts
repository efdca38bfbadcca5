/**
 * Chromium for browser tests of the board (a helper, not a test). Uses the system
 * Chromium from apt; playwright-core downloads nothing.
 */
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

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

/** Where browser tests put their screenshots (the repository's test-artifacts/). */
export const ARTIFACTS = new URL('../../../test-artifacts/', import.meta.url);

export type Viewport = { width: number; height: number };

/** The console in one Chromium, as the browser tests drive it: zh-CN pages in Beijing time. */
export interface ConsoleBrowser {
  browser: Browser;
  /** Every uncaught error of every page opened here; a test expects it empty. */
  pageErrors: string[];
  /** A page in a fresh context (its own cookies), not logged in. */
  newPage(viewport?: Viewport): Promise<Page>;
  /** A page in a fresh context, logged in as `username` through the log-in page. */
  loginAs(username: string, viewport?: Viewport): Promise<Page>;
  /** Logs `page` in as `username` through the log-in page. */
  logIn(page: Page, username: string): Promise<void>;
  /** A full-page screenshot to test-artifacts/console-<name>.png. */
  shot(page: Page, name: string): Promise<void>;
  /** Closes every context, then Chromium. */
  close(): Promise<void>;
}

/** Launches Chromium for the console at `baseUrl` and makes sure test-artifacts/ exists. */
export async function openConsole(baseUrl: string): Promise<ConsoleBrowser> {
  const browser = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  const newPage = async (viewport: Viewport = { width: 1366, height: 900 }) => {
    const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return page;
  };
  return {
    browser,
    pageErrors,
    newPage,
    async loginAs(username, viewport) {
      const page = await newPage(viewport);
      await logIn(page, baseUrl, username);
      return page;
    },
    logIn: (page, username) => logIn(page, baseUrl, username),
    async shot(page, name) {
      await page.screenshot({ path: new URL(`console-${name}.png`, ARTIFACTS).pathname, fullPage: true, animations: 'disabled' });
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
    },
  };
}
