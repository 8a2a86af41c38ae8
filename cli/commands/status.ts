import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { exitCodes, progress, table } from '../output.js';
import type { Command } from '../registry.js';
import { scanItems } from '../tables.js';

const HOUR_MS = 3_600_000;
/** The metering lag alarm fires past two hours; status flags the same. */
const LAG_LIMIT_SECONDS = 2 * 3600;

export interface StatusReport {
  readonly stackName: string;
  readonly now: string;
  readonly licenses: { readonly productCode: string; readonly status: string; readonly count: number }[];
  readonly metering: {
    /** Start of the oldest usage hour not yet reported to AWS. */
    readonly oldestPendingHour?: string;
    readonly lagSeconds: number;
    /** The latest ledger write (metering's last run). */
    readonly lastActivity?: string;
    /** Usage records of the last 24 hours by outcome. */
    readonly last24h: Record<string, number>;
  };
  readonly deadLetters: { readonly queue: string; readonly description: string; readonly messages: number }[];
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'licenses by state, metering lag and outcomes, dead-letter depths',
  help: `Usage: marketplace-bridge status

Licenses by state and product, metering lag (oldest usage hour not yet reported) and last
activity, usage records of the last 24 hours by outcome, and the depth of every dead-letter
queue. Exits 1 when metering lags more than two hours or a dead-letter queue holds messages.`,
  options: {},
  async run(context) {
    const deployment = context.deployment();
    const [resources, runtime] = await Promise.all([deployment.resources(), deployment.runtime()]);
    const now = context.now();
    const bar = progress(context.io, 'reading', Number.POSITIVE_INFINITY);

    const licenseCounts = new Map<string, number>();
    for await (const page of scanItems(runtime.dynamo(), resources.licensesTable, {
      projection: ['productCode', 'status'],
    })) {
      for (const item of page) {
        const key = `${String(item.productCode ?? '?')}\u0000${String(item.status ?? '?')}`;
        licenseCounts.set(key, (licenseCounts.get(key) ?? 0) + 1);
      }
      bar.tick(page.length);
    }

    let oldestPending: number | undefined;
    let lastActivity: number | undefined;
    const last24h: Record<string, number> = {};
    for await (const page of scanItems(runtime.dynamo(), resources.meteringLedgerTable, {
      projection: ['usageHour', 'status', 'createdAt', 'updatedAt'],
    })) {
      for (const item of page) {
        const hour = Date.parse(String(item.usageHour));
        const status = String(item.status);
        if (status === 'pending' && Number.isFinite(hour))
          oldestPending = Math.min(oldestPending ?? hour, hour);
        if (Number.isFinite(hour) && hour >= now.getTime() - 24 * HOUR_MS)
          last24h[status] = (last24h[status] ?? 0) + 1;
        for (const stamp of [item.createdAt, item.updatedAt]) {
          const at = Date.parse(String(stamp));
          if (Number.isFinite(at)) lastActivity = Math.max(lastActivity ?? at, at);
        }
      }
      bar.tick(page.length);
    }
    bar.done();

    const deadLetters = await Promise.all(
      [...resources.deadLetterQueues].map(async ([queue, output]) => {
        const answer = await deployment.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: output.url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        const messages =
          Number(answer.Attributes?.ApproximateNumberOfMessages ?? 0) +
          Number(answer.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
        return { queue, description: output.description, messages };
      }),
    );

    const lagSeconds =
      oldestPending === undefined ? 0 : Math.max(0, Math.round((now.getTime() - oldestPending) / 1000));
    const report: StatusReport = {
      stackName: resources.stackName,
      now: now.toISOString(),
      licenses: [...licenseCounts]
        .map(([key, count]) => {
          const [productCode = '', status = ''] = key.split('\u0000');
          return { productCode, status, count };
        })
        .sort((a, b) => a.productCode.localeCompare(b.productCode) || a.status.localeCompare(b.status)),
      metering: {
        ...(oldestPending === undefined ? {} : { oldestPendingHour: new Date(oldestPending).toISOString() }),
        lagSeconds,
        ...(lastActivity === undefined ? {} : { lastActivity: new Date(lastActivity).toISOString() }),
        last24h,
      },
      deadLetters,
    };
    const lagging = lagSeconds > LAG_LIMIT_SECONDS;
    const waiting = deadLetters.some((queue) => queue.messages > 0);

    if (context.json) {
      context.io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const { io } = context;
      io.stdout(`${report.stackName} at ${report.now}\n\nLicenses\n`);
      io.stdout(
        report.licenses.length === 0
          ? '  none yet\n'
          : table(
              ['product', 'state', 'licenses'],
              report.licenses.map((row) => [row.productCode, row.status, row.count]),
            ),
      );
      const lag = report.metering.oldestPendingHour
        ? `${formatDuration(lagSeconds)} (oldest unreported hour ${report.metering.oldestPendingHour})${lagging ? '  <- behind: more than two hours' : ''}`
        : 'none (nothing waits to be reported)';
      io.stdout(
        `\nMetering\n  lag: ${lag}\n  last activity: ${report.metering.lastActivity ?? 'never'}\n  records of the last 24 h: ${
          Object.entries(last24h)
            .map(([status, count]) => `${status} ${count}`)
            .join(', ') || 'none'
        }\n\nDead-letter queues\n`,
      );
      io.stdout(
        table(
          ['queue', 'messages', 'what fails into it'],
          deadLetters.map((queue) => [queue.queue, queue.messages, queue.description]),
        ),
      );
      if (waiting) io.stdout('\nMessages are waiting: see them with "marketplace-bridge dead-letters".\n');
    }
    return lagging || waiting ? exitCodes.problems : exitCodes.ok;
  },
};

const formatDuration = (seconds: number): string => {
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min`;
};
