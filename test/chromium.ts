/**
 * The browser the browser suites share: Debian's Chromium (apt, `.ci/run`) driven by playwright-core, never a
 * downloaded browser, launched the same way by every suite so that they all test the same browser; a fresh
 * context and page for each test; and the watch a test keeps on one page while it runs (what went wrong, what
 * was logged, each response).
 */
import { chromium, type Browser, type ConsoleMessage, type Page, type Response as PageResponse } from 'playwright-core';

/** Debian's chromium package. */
const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless without a sandbox or a GPU, which a container may not give it, and with no traffic of its own
 * (first-run pages, background networking, component updates, sync) beside the requests the page makes.
 */
const CHROMIUM_ARGS: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts Debian's Chromium; the caller closes it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
}

/**
 * Runs `run` on a new page in a context of its own (no cache, cookies or storage from another test), and closes
 * the context however `run` ends.
 */
export async function withPage<T>(browser: Browser, run: (page: Page) => Promise<T>): Promise<T> {
  const context = await browser.newContext();
  try {
    return await run(await context.newPage());
  } finally {
    await context.close();
  }
}

/** What Chromium reported about one page, as it happened. */
export interface PageReports {
  /** Uncaught page errors, failed requests and, if asked for, console errors and warnings, as text. */
  readonly problems: string[];
  /** Every console message, in order. */
  readonly console: ConsoleMessage[];
}

export interface WatchOptions {
  /** Whether console errors and warnings are problems; if not, the test judges `console` itself. */
  readonly consoleProblems: boolean;
  /**
   * Called with each response as it arrives: a body asked for here is asked for while Chromium still holds it
   * (it may drop it once the page moves on).
   */
  readonly onResponse: (response: PageResponse) => void;
}

/** Starts watching `page`; call it before the page loads anything. */
export function watchPage(page: Page, { consoleProblems, onResponse }: WatchOptions): PageReports {
  const reports: PageReports = { problems: [], console: [] };
  page.on('console', (message) => {
    reports.console.push(message);
    if (consoleProblems && (message.type() === 'error' || message.type() === 'warning')) {
      reports.problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => reports.problems.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) =>
    reports.problems.push(`requestfailed: ${request.url()} ${request.failure()?.errorText ?? ''}`),
  );
  page.on('response', onResponse);
  return reports;
}
