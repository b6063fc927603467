// Headless Chromium (Debian's package) driven by playwright-core, for the PSU-page tests: launch,
// the TPP's redirect answered by the test, screenshots in test-artifacts/, CSP violations.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const REDIRECT = 'https://tpp.example/callback';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

/** Why the browser tests cannot run here; under CI=true a missing Chromium is an error. */
export function browserSkipReason(): string | undefined {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
    return `${CHROMIUM} is missing (apt-get install chromium)`;
  }
  return undefined;
}

export type BrowserContext = Awaited<
  ReturnType<typeof import('playwright-core')['chromium']['launchPersistentContext']>
>;
export type Page = Awaited<ReturnType<BrowserContext['newPage']>>;
type LaunchOptions = NonNullable<
  Parameters<typeof import('playwright-core')['chromium']['launchPersistentContext']>[1]
>;

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launch(options: Pick<LaunchOptions, 'clientCertificates'> = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'psd2-oauth-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The TPP's redirect URI is not on this machine: the navigation to it is answered by the test. */
export async function captureRedirect(page: Page, redirect = REDIRECT): Promise<() => Promise<URL>> {
  let resolve: (url: URL) => void;
  const reached = new Promise<URL>((r) => {
    resolve = r;
  });
  await page.route(`${new URL(redirect).origin}/**`, (route) => {
    resolve(new URL(route.request().url()));
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'TPP callback' });
  });
  return () => reached;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });
}

export function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) seen.push(msg.text());
  });
  return seen;
}
