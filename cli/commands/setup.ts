import { EventBridgeClient, ListEventSourcesCommand } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DeploymentConfig } from '#shared/config';
import { createSaasusClient, type SaasusClient } from '#shared/saasus/client';
import { SaasusApiError } from '#shared/saasus/errors';
import type { EventBridgeSettings } from '#shared/saasus/schemas';
import { secretsManagerSource } from '#shared/secrets';
import type { Command } from '../registry.js';

/**
 * `setup`: points SaaSus's partner events at the stack's account and region with the SaaSus
 * Integration API, so the seller does not click through SaaSus (Integrations → Event) to create
 * the partner event source; then finds that source in the account and prints the config line
 * that makes `cdk deploy` associate a bus with it. After the deploy, `setup --test` asks SaaSus
 * to send its test event through the source.
 *
 * A SaaSus SaaS has one EventBridge setting, so one partner event source: moving it to another
 * account or region stops the events the first one receives, which is why `--force` is needed.
 */

export const PARTNER_SOURCE_PREFIX = 'aws.partner/saasus.io/';

export interface PartnerEventSource {
  readonly name: string;
  /** EventBridge's state: PENDING until a bus is associated, then ACTIVE. */
  readonly state?: string;
}

export interface SetupContext {
  readonly config: DeploymentConfig;
  readonly saasus: Pick<
    SaasusClient,
    'getEventBridgeSettings' | 'saveEventBridgeSettings' | 'sendEventBridgeTestEvent'
  >;
  /** Partner event sources in the account and region, by name prefix (EventBridge ListEventSources). */
  listEventSources(namePrefix: string): Promise<PartnerEventSource[]>;
  /** The deploying account when `--account` is not given (e.g. STS GetCallerIdentity). */
  accountId?(): Promise<string>;
  print(line: string): void;
  sleep?(ms: number): Promise<void>;
}

export interface SetupOptions {
  readonly account?: string;
  readonly region?: string;
  readonly force: boolean;
  readonly test: boolean;
  /** How long to wait for SaaSus to create the source, seconds. */
  readonly waitSeconds: number;
}

export class SetupUsageError extends Error {
  override readonly name = 'SetupUsageError';
}

export const setupUsage =
  'usage: setup [--account <12-digit id>] [--region <region>] [--force] [--test] [--wait <seconds>]';

export const parseSetupArgs = (args: readonly string[]): SetupOptions => {
  const options: { account?: string; region?: string; force: boolean; test: boolean; waitSeconds: number } = {
    force: false,
    test: false,
    waitSeconds: 60,
  };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    const value = () => {
      const next = args[++index];
      if (next === undefined || next.startsWith('--'))
        throw new SetupUsageError(`${arg} needs a value\n${setupUsage}`);
      return next;
    };
    if (arg === '--account') options.account = value();
    else if (arg === '--region') options.region = value();
    else if (arg === '--force') options.force = true;
    else if (arg === '--test') options.test = true;
    else if (arg === '--wait') {
      const seconds = Number(value());
      if (!Number.isFinite(seconds) || seconds < 0)
        throw new SetupUsageError(`--wait needs seconds\n${setupUsage}`);
      options.waitSeconds = seconds;
    } else throw new SetupUsageError(`unknown argument ${arg}\n${setupUsage}`);
  }
  if (options.account !== undefined && !/^\d{12}$/.test(options.account)) {
    throw new SetupUsageError('--account: expected a 12-digit AWS account id');
  }
  return options;
};

const describe = (settings: EventBridgeSettings) =>
  `account ${settings.aws_account_id} in ${settings.aws_region}`;

/** Runs `setup`; resolves to the process exit code. */
export const run = async (args: readonly string[], ctx: SetupContext): Promise<number> => {
  let options: SetupOptions;
  try {
    options = parseSetupArgs(args);
  } catch (error) {
    if (error instanceof SetupUsageError) {
      ctx.print(error.message);
      return 2;
    }
    throw error;
  }
  const account = options.account ?? (await ctx.accountId?.());
  if (!account) {
    ctx.print(`Pass --account <12-digit id> (the account the stack is deployed to).\n${setupUsage}`);
    return 2;
  }
  const wanted: EventBridgeSettings = {
    aws_account_id: account,
    aws_region: options.region ?? ctx.config.region,
  };
  const sleep = ctx.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  let current: EventBridgeSettings | undefined;
  try {
    current = await ctx.saasus.getEventBridgeSettings();
  } catch (error) {
    // Unreadable is not "none": a SaaS whose settings SaaSus fails to read may send elsewhere.
    if (!(error instanceof SaasusApiError)) throw error;
    if (!options.force) {
      ctx.print(
        `SaaSus could not read the EventBridge settings (${error.message}). ` +
          'If this SaaS never had them set (SaaSus console: Integrations → Event), run again with --force.',
      );
      return 1;
    }
  }
  if (
    current &&
    current.aws_account_id === wanted.aws_account_id &&
    current.aws_region === wanted.aws_region
  ) {
    ctx.print(`SaaSus already sends its partner events to ${describe(wanted)}.`);
  } else if (current && !options.force) {
    ctx.print(
      `SaaSus sends its partner events to ${describe(current)}. A SaaSus SaaS has one partner event source: ` +
        `moving it to ${describe(wanted)} stops the events there. Run again with --force to move it.`,
    );
    return 1;
  } else {
    await ctx.saasus.saveEventBridgeSettings(wanted);
    ctx.print(
      `${current ? `Moved SaaSus partner events from ${describe(current)}` : 'Pointed SaaSus partner events'} to ${describe(wanted)}.`,
    );
  }

  // SaaSus creates the source asynchronously; poll for it.
  const deadline = Date.now() + options.waitSeconds * 1000;
  let sources = await ctx.listEventSources(PARTNER_SOURCE_PREFIX);
  while (sources.length === 0 && Date.now() < deadline) {
    await sleep(Math.min(5000, Math.max(0, deadline - Date.now())));
    sources = await ctx.listEventSources(PARTNER_SOURCE_PREFIX);
  }
  if (sources.length === 0) {
    ctx.print(
      `No partner event source named ${PARTNER_SOURCE_PREFIX}… appeared in ${describe(wanted)} within ${options.waitSeconds} s; ` +
        `run setup again in a minute (check with: aws events list-event-sources --name-prefix ${PARTNER_SOURCE_PREFIX} --region ${wanted.aws_region}).`,
    );
    return 1;
  }
  if (sources.length > 1) {
    ctx.print(
      `Several SaaSus partner event sources exist here: ${sources.map((source) => source.name).join(', ')}.`,
    );
  }
  const [source] = sources as [PartnerEventSource, ...PartnerEventSource[]];
  ctx.print(`Partner event source: ${source.name}${source.state ? ` (${source.state})` : ''}`);
  const configured = ctx.config.saasusEvents?.eventSourceName;
  if (configured !== source.name) {
    ctx.print(
      `Put it in your config, then deploy (the stack associates a bus with it):\n  "saasusEvents": { "eventSourceName": "${source.name}" }`,
    );
    if (options.test) ctx.print('Not sending the test event: deploy with this source first.');
    return options.test ? 1 : 0;
  }
  ctx.print('Your config already names it.');

  if (options.test) {
    if (source.state && source.state !== 'ACTIVE') {
      ctx.print(
        `The source is ${source.state}: deploy the stack first (it associates the bus), then run setup --test.`,
      );
      return 1;
    }
    await ctx.saasus.sendEventBridgeTestEvent();
    ctx.print(
      "SaaSus accepted the test event (event_type create_eventbridge_test_event): the stack's SaaSus events function logs it as received and ignored.",
    );
  }
  return 0;
};

/** `listEventSources` over the real (or emulated) EventBridge API. */
export const eventSourcesFrom =
  (client: EventBridgeClient) =>
  async (namePrefix: string): Promise<PartnerEventSource[]> => {
    const sources: PartnerEventSource[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(
        new ListEventSourcesCommand({ NamePrefix: namePrefix, NextToken: nextToken }),
      );
      for (const source of page.EventSources ?? []) {
        if (source.Name)
          sources.push({ name: source.Name, ...(source.State ? { state: source.State } : {}) });
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return sources;
  };

/**
 * The tool's `setup` command. It runs before the first deploy, so it needs only the config and
 * the SaaSus secret, never the stack's outputs; the options are handed to `run` as they were given.
 */
export const setupCommand: Command = {
  name: 'setup',
  summary: "point SaaSus's partner events at this account (before the first deploy); --test after it",
  help: `Usage: marketplace-bridge setup [--account ID] [--region REGION] [--force] [--test] [--wait SECONDS]

Points SaaSus's EventBridge integration at the stack's account and region (SaaSus Integration
API), waits for the partner event source to appear there, and prints the "saasusEvents" line
for the config. Run it before the first deploy; after the deploy, --test asks SaaSus to send its
test event through the source. Moving the source from another account or region needs --force
(a SaaSus SaaS has one). Exits 1 when the source does not appear in time or would move.`,
  options: {
    account: { type: 'string' },
    region: { type: 'string' },
    force: { type: 'boolean' },
    test: { type: 'boolean' },
    wait: { type: 'string' },
  },
  async run(context, values) {
    const { config } = context.deployment();
    const args = [
      ...(typeof values.account === 'string' ? ['--account', values.account] : []),
      ...(typeof values.region === 'string' ? ['--region', values.region] : []),
      ...(values.force === true ? ['--force'] : []),
      ...(values.test === true ? ['--test'] : []),
      ...(typeof values.wait === 'string' ? ['--wait', values.wait] : []),
    ];
    return run(args, {
      config,
      saasus: createSaasusClient({
        baseUrl: config.saasus.apiBaseUrl,
        secrets: secretsManagerSource(new SecretsManagerClient({})),
        secretName: config.saasus.secretName,
      }),
      listEventSources: eventSourcesFrom(new EventBridgeClient({})),
      print: (line) => context.io.stdout(`${line}\n`),
    });
  },
};
