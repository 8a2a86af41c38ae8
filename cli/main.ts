import { parseArgs } from 'node:util';
import { commands } from './commands/index.js';
import { type CommandContext, deploymentFrom, globalHelp, globalOptions } from './context.js';
import { CliError, exitCodes, type Io, processIo, UsageError } from './output.js';
import type { Command } from './registry.js';

export const toolName = 'marketplace-bridge';

const overview = (): string =>
  `Usage: ${toolName} <command> [options]

Operate a Marketplace Bridge deployment (or the local sandbox with --sandbox).

Commands:
${commands.map((command) => `  ${command.name.padEnd(14)}${command.summary}`).join('\n')}

${globalHelp}

Exit codes: 0 done, 1 problems found, 2 wrong command line, 3 deployment unreachable, 4 unexpected error.
Run "${toolName} <command> --help" for a command's options.
`;

const commandHelp = (command: Command): string => `${command.help.trimEnd()}\n\n${globalHelp}\n`;

export interface RunOptions {
  readonly io?: Io;
  readonly now?: () => Date;
}

/** Runs the tool with `argv` (without the node and script paths); resolves the exit code. */
export const runCli = async (argv: readonly string[], options: RunOptions = {}): Promise<number> => {
  const io = options.io ?? processIo();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(overview());
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    io.stderr(`Unknown command "${name}". Commands: ${commands.map((c) => c.name).join(', ')}\n`);
    return exitCodes.usage;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...rest],
      options: { ...globalOptions, ...command.options },
      allowPositionals: command.positionals ?? false,
      strict: true,
    }));
  } catch (error) {
    io.stderr(`${error instanceof Error ? error.message : String(error)}\n\n${commandHelp(command)}`);
    return exitCodes.usage;
  }
  if (values.help) {
    io.stdout(commandHelp(command));
    return exitCodes.ok;
  }
  let deployment: ReturnType<typeof deploymentFrom> | undefined;
  const context: CommandContext = {
    io,
    json: values.json === true,
    now: options.now ?? (() => new Date()),
    deployment: () => {
      deployment ??= deploymentFrom(values);
      return deployment;
    },
  };
  try {
    return await command.run(context, values, positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${error.message}\n\n${commandHelp(command)}`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      io.stderr(`${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return exitCodes.internal;
  }
};
