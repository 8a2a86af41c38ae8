/**
 * How the tool talks: human text by default, JSON with `--json`, a progress bar on stderr for
 * long work (only on a terminal), and exit codes that mean something.
 */

export const exitCodes = {
  ok: 0,
  /** The command ran and found problems: a failed check, messages it could not move, differences. */
  problems: 1,
  /** The command line is wrong (unknown command or option, a missing or malformed value). */
  usage: 2,
  /** The deployment cannot be reached: config invalid, stack not found, no credentials. */
  unreachable: 3,
  /** Anything else (a bug, or an AWS error the tool does not expect). */
  internal: 4,
} as const;

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, exitCodes.usage);
  }
}

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars only draw there). */
  readonly interactive: boolean;
}

export const processIo = (): Io => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
});

/** A plain-text table: columns padded to their widest cell. */
export const table = (headers: readonly string[], rows: readonly (readonly unknown[])[]): string => {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === undefined ? '' : String(cell))))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(headers), line(widths.map((width) => '-'.repeat(width))), ...cells.slice(1).map(line)].join('\n')}\n`;
};

/** CSV as RFC 4180 has it: fields with a comma, quote or line break are quoted, quotes doubled. */
export const csv = (headers: readonly string[], rows: readonly (readonly unknown[])[]): string =>
  `${[headers, ...rows]
    .map((row) =>
      row
        .map((cell) => {
          const text = cell === undefined || cell === null ? '' : String(cell);
          return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
        })
        .join(','),
    )
    .join('\r\n')}\r\n`;

export interface Progress {
  tick(done?: number): void;
  done(): void;
}

/**
 * A progress bar on stderr, redrawn in place (a running count when the total is not known,
 * `Infinity`); silent when stderr is not a terminal, so `--json` output and pipes stay clean.
 */
export const progress = (io: Io, label: string, total: number): Progress => {
  let count = 0;
  const draw = () => {
    if (!io.interactive || total <= 0) return;
    if (!Number.isFinite(total)) {
      io.stderr(`\r${label}: ${count}`);
      return;
    }
    const width = 30;
    const filled = Math.round((Math.min(count, total) / total) * width);
    io.stderr(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count}/${total}`);
  };
  draw();
  return {
    tick(done = 1) {
      count += done;
      draw();
    },
    done() {
      if (io.interactive && total > 0) io.stderr('\n');
    },
  };
};
