import { describe, expect, it } from 'vitest';
import {
  BrowserNotFoundError,
  type BrowserSearch,
  findChromium,
  requireChromium,
  whatToInstall,
} from '../support/chromium.js';

const machine = (overrides: Partial<BrowserSearch> & { executables?: string[] }): BrowserSearch => {
  const executables = new Set(overrides.executables ?? []);
  return {
    env: overrides.env ?? { PATH: '/usr/local/bin:/usr/bin' },
    platform: overrides.platform ?? 'linux',
    isExecutable: (path) => executables.has(path),
    playwrightBrowser: overrides.playwrightBrowser ?? (() => '/home/me/.cache/ms-playwright/chromium/chrome'),
  };
};

describe('finding a browser for the browser tests', () => {
  it('takes CHROMIUM_PATH, then CHROME_PATH, before anything on the machine', () => {
    const executables = ['/opt/chromium/chrome', '/opt/chrome/chrome', '/usr/bin/chromium'];
    expect(findChromium(machine({ env: { CHROMIUM_PATH: '/opt/chromium/chrome' }, executables }))).toBe(
      '/opt/chromium/chrome',
    );
    expect(findChromium(machine({ env: { CHROME_PATH: '/opt/chrome/chrome' }, executables }))).toBe(
      '/opt/chrome/chrome',
    );
  });

  it('refuses a browser variable that names no executable, naming the variable', () => {
    expect(() =>
      findChromium(machine({ env: { CHROME_PATH: '/nope' }, executables: ['/usr/bin/chromium'] })),
    ).toThrow(new BrowserNotFoundError('CHROME_PATH=/nope is not an executable Chrome or Chromium.'));
  });

  it('looks on PATH first, then in the usual install locations, then for the browser playwright downloads', () => {
    expect(
      findChromium(machine({ executables: ['/usr/local/bin/google-chrome', '/usr/bin/chromium'] })),
    ).toBe('/usr/local/bin/google-chrome');
    expect(findChromium(machine({ env: {}, executables: ['/snap/bin/chromium'] }))).toBe(
      '/snap/bin/chromium',
    );
    expect(
      findChromium(
        machine({
          platform: 'darwin',
          env: {},
          executables: ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'],
        }),
      ),
    ).toBe('/Applications/Google Chrome.app/Contents/MacOS/Google Chrome');
    expect(findChromium(machine({ executables: ['/home/me/.cache/ms-playwright/chromium/chrome'] }))).toBe(
      '/home/me/.cache/ms-playwright/chromium/chrome',
    );
  });

  it('finds nothing where there is nothing (macOS locations do not count on Linux)', () => {
    const macChrome = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
    expect(findChromium(machine({ env: {}, executables: [macChrome] }))).toBeUndefined();
  });

  it.each([
    ['linux', ['/usr/bin/apt-get'], 'run "sudo apt-get install -y chromium fonts-noto-cjk"'],
    ['linux', [], 'run "npx playwright-core install chromium"'],
    ['darwin', [], 'install Google Chrome (brew install --cask google-chrome)'],
    ['win32', [], 'run "npx playwright-core install chromium"'],
  ] as const)(
    'without one, fails with one line saying what to install (%s %j)',
    (platform, executables, advice) => {
      const search = machine({ platform, executables: [...executables] });
      const line = whatToInstall(search);
      expect(line).toContain(advice);
      expect(line).toContain('or set CHROMIUM_PATH');
      expect(line).not.toContain('\n');
      expect(() => requireChromium(search)).toThrow(new BrowserNotFoundError(line));
    },
  );
});
