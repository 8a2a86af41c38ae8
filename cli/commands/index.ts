import type { Command } from '../registry.js';
import { deadLettersCommand } from './dead-letters.js';
import { discardCommand } from './discard.js';
import { doctorCommand } from './doctor.js';
import { dryRunCommand } from './dry-run.js';
import { licenseCommand } from './license.js';
import { reconcileCommand } from './reconcile.js';
import { redriveCommand } from './redrive.js';
import { setupCommand } from './setup.js';
import { statusCommand } from './status.js';

/** Every command, in the order `--help` lists them. Add a command: a module here and one line below. */
export const commands: readonly Command[] = [
  setupCommand,
  doctorCommand,
  statusCommand,
  licenseCommand,
  dryRunCommand,
  reconcileCommand,
  deadLettersCommand,
  redriveCommand,
  discardCommand,
];
