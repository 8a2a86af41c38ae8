import type { ParseArgsConfig } from 'node:util';
import type { CommandContext } from './context.js';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** One command of the tool: a module under cli/commands/ exports one of these. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The usage line and what the options mean (printed by `--help`). */
  readonly help: string;
  /** Its own options, besides the global ones. */
  readonly options: OptionSpecs;
  /** Whether it takes positional arguments (e.g. `license <key>`). */
  readonly positionals?: boolean;
  /** Runs it; resolves the exit code. */
  run(
    context: CommandContext,
    values: Readonly<Record<string, string | boolean | string[] | undefined>>,
    positionals: readonly string[],
  ): Promise<number>;
}
