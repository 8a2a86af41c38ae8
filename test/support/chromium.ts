import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/**
 * Finding a Chrome or Chromium for the browser tests, the way other tools do: an environment
 * variable, then the browser's names on PATH, then the usual install locations of Linux and macOS,
 * then the browser `npx playwright-core install chromium` downloads. `npm test` installs Debian's
 * Chromium when it can (scripts/ensure-browser.ts); otherwise the tests fail with one line saying
 * what to install. They are never skipped.
 */

/** Checked in this order; a variable that is set must name an executable. */
export const BROWSER_ENV_VARS = ['CHROMIUM_PATH', 'CHROME_PATH'] as const;

const namesOnPath = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

const installLocations: Partial<Record<NodeJS.Platform, readonly string[]>> = {
  linux: [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/snap/bin/chromium',
    '/opt/google/chrome/chrome',
  ],
  darwin: [
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
    join(homedir(), 'Applications/Google Chrome.app/Contents/MacOS/Google Chrome'),
    join(homedir(), 'Applications/Chromium.app/Contents/MacOS/Chromium'),
  ],
};

export interface BrowserSearch {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  isExecutable: (path: string) => boolean;
  /** The browser playwright-core downloads, where it would be (it may not be there). */
  playwrightBrowser: () => string | undefined;
}

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const thisMachine = (): BrowserSearch => ({
  env: process.env,
  platform: process.platform,
  isExecutable,
  playwrightBrowser: () => {
    try {
      return chromium.executablePath();
    } catch {
      return undefined;
    }
  },
});

export class BrowserNotFoundError extends Error {
  override readonly name = 'BrowserNotFoundError';
}

/** The first browser found, or undefined; a browser variable naming nothing is an error. */
export const findChromium = (search: BrowserSearch = thisMachine()): string | undefined => {
  for (const variable of BROWSER_ENV_VARS) {
    const path = search.env[variable];
    if (!path) continue;
    if (search.isExecutable(path)) return path;
    throw new BrowserNotFoundError(`${variable}=${path} is not an executable Chrome or Chromium.`);
  }
  const onPath = (search.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .flatMap((directory) => namesOnPath.map((name) => join(directory, name)));
  const candidates = [...onPath, ...(installLocations[search.platform] ?? [])];
  const playwright = search.playwrightBrowser();
  if (playwright) candidates.push(playwright);
  return candidates.find((path) => search.isExecutable(path));
};

/** Debian's packages: the browser, and the fonts the Japanese pages need. */
export const DEBIAN_PACKAGES = ['chromium', 'fonts-noto-cjk'] as const;

/** The one line that says what to install on a machine where `npm test` cannot install it itself. */
export const whatToInstall = (search: Pick<BrowserSearch, 'platform' | 'isExecutable'>): string => {
  const setVariable = `or set ${BROWSER_ENV_VARS[0]} to a Chrome or Chromium executable`;
  if (search.platform === 'darwin')
    return `No Chrome or Chromium found for the browser tests: install Google Chrome (brew install --cask google-chrome), ${setVariable}.`;
  if (search.platform === 'linux' && search.isExecutable('/usr/bin/apt-get'))
    return `No Chromium found for the browser tests: run "sudo apt-get install -y ${DEBIAN_PACKAGES.join(' ')}", ${setVariable}.`;
  return `No Chrome or Chromium found for the browser tests: run "npx playwright-core install chromium", ${setVariable}.`;
};

/** The browser to use, or an error whose message is the one line saying what to install. */
export const requireChromium = (search: BrowserSearch = thisMachine()): string => {
  const found = findChromium(search);
  if (!found) throw new BrowserNotFoundError(whatToInstall(search));
  return found;
};

/**
 * Launches headless Chromium with the flags this machine needs: no sandbox (root), and no
 * background networking (the network is closed, so Chromium's own connections only fail).
 */
export const launchChromium = async (): Promise<Browser> =>
  chromium.launch({
    executablePath: requireChromium(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
