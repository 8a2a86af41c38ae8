import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What the figures were measured on. */
export interface MachineDescription {
  readonly nproc: number;
  readonly memoryGiB: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly kernel: string;
}

const nproc = (): number => {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
};

const cpuModel = (): string => {
  const model = os.cpus()[0]?.model?.trim();
  if (model) return model;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
};

export const describeMachine = (): MachineDescription => ({
  nproc: nproc(),
  memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
  cpuModel: cpuModel(),
  node: process.version,
  platform: `${os.platform()} ${os.arch()}`,
  kernel: os.release(),
});

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
export const cpuSecondsOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return undefined;
  }
};
