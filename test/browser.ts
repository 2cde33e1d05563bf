import { existsSync } from "node:fs";
import { type BrowserContext, chromium } from "playwright-core";
import { onTestFinished } from "vitest";
import { tempDir } from "./helpers.js";

/** Debian's chromium, installed by scripts/chromium.sh. */
const CHROMIUM = "/usr/bin/chromium";

/**
 * Flags for a headless chromium without a network: background networking, component
 * updates and sync make it wait on hosts it cannot reach; the sandbox needs user
 * namespaces that a container running as root does not give.
 */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * A headless chromium driven by playwright-core, with a fresh profile, closed when the
 * test finishes. Playwright's own browser download needs the internet; Debian's
 * package does not.
 * @throws Error naming the script to run when chromium is not installed.
 */
export async function openBrowser(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run "bash scripts/chromium.sh" (as root) first`);
  }
  const profile = await tempDir("toka-chromium-");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
  onTestFinished(() => context.close());
  return context;
}
