// `npm test`'s browser, before the tests run: found the usual way, installed with apt-get where
// this is Debian and we are root (as CI machines are), else one line saying what to install.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import {
  BrowserNotFoundError,
  DEBIAN_PACKAGES,
  findChromium,
  requireChromium,
} from '../test/support/chromium.ts';

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const canInstall =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  executable('/usr/bin/apt-get') &&
  executable('/usr/bin/dpkg-query');

const notInstalled = (packages: readonly string[]) =>
  packages.filter((name) => {
    try {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
      return !execFileSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' }).includes(
        'install ok installed',
      );
    } catch {
      return true;
    }
  });

try {
  const found = findChromium();
  if (canInstall) {
    const missing = notInstalled(
      found ? DEBIAN_PACKAGES.filter((name) => name !== 'chromium') : DEBIAN_PACKAGES,
    );
    if (missing.length > 0) {
      console.log(`Installing ${missing.join(', ')} for the browser tests (apt-get)...`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      execFileSync('apt-get', ['install', '-y', '-qq', ...missing], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env,
      });
    }
  }
  requireChromium();
} catch (error) {
  if (!(error instanceof BrowserNotFoundError)) throw error;
  console.error(error.message);
  process.exit(1);
}
