import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SaasusEmulator, startSaasusEmulator } from '#sandbox/emulators/saasus';
import { parseDeploymentConfig } from '#shared/config';
import { createSaasusClient, type SaasusClient } from '#shared/saasus/client';
import { staticSecretSource } from '#shared/secrets';
import { run, type SetupContext } from '../../cli/commands/setup.js';
import { exampleConfigInput } from '../support/config.js';

/**
 * The `setup` command against the SaaSus emulator: it saves the EventBridge settings through the
 * Integration API, finds the partner event source SaaSus created, prints the config line, and
 * sends the test event once the config names the source and it is active.
 */

const credentials = { saasId: 'setup-saas', apiKey: 'setup-api-key', secretKey: 'setup-secret-key' };
const account = '210987654321';
let saasus: SaasusEmulator;
let client: SaasusClient;

beforeAll(async () => {
  saasus = await startSaasusEmulator({ credentials });
  client = createSaasusClient({
    baseUrl: saasus.url,
    secrets: staticSecretSource({ 'marketplace-bridge/dev/saasus': credentials }),
    secretName: 'marketplace-bridge/dev/saasus',
  });
});
afterAll(() => saasus?.close());

const setup = (args: string[], options: { eventSourceName?: string; state?: string } = {}) => {
  const input = exampleConfigInput() as Record<string, unknown>;
  if (options.eventSourceName) input.saasusEvents = { eventSourceName: options.eventSourceName };
  else delete input.saasusEvents;
  const lines: string[] = [];
  const ctx: SetupContext = {
    config: parseDeploymentConfig(input),
    saasus: client,
    // The account's partner sources as EventBridge would list them: what SaaSus created there.
    listEventSources: async (prefix) =>
      saasus.state
        .partnerEventSources()
        .filter((source) => source.name.startsWith(prefix) && source.account === account)
        .map((source) => ({ name: source.name, state: options.state ?? 'PENDING' })),
    print: (line) => lines.push(line),
    sleep: async () => {},
  };
  return run(args, ctx).then((code) => ({ code, output: lines.join('\n') }));
};

const saves = () => saasus.state.callCount('SaveEventBridgeSettings');

describe('setup', () => {
  it('points SaaSus partner events at the account, then prints the source for the config', async () => {
    expect(saasus.state.partnerEventSources()).toEqual([]);
    // Never set: SaaSus answers the read with the spec's 500, which setup cannot tell from an outage.
    const unread = await setup(['--account', account, '--wait', '0']);
    expect(unread.code).toBe(1);
    expect(unread.output).toContain('SaaSus could not read the EventBridge settings');
    expect(unread.output).toContain('run again with --force');
    expect(saves()).toBe(0);

    const { code, output } = await setup(['--account', account, '--wait', '0', '--force']);
    expect(code).toBe(0);
    const source = `aws.partner/saasus.io/${credentials.saasId}-1/event`;
    expect(await client.getEventBridgeSettings()).toEqual({
      aws_account_id: account,
      aws_region: 'us-east-1',
    });
    expect(output).toContain(`Pointed SaaSus partner events to account ${account} in us-east-1.`);
    expect(output).toContain(`Partner event source: ${source} (PENDING)`);
    expect(output).toContain(`"saasusEvents": { "eventSourceName": "${source}" }`);
    expect(saves()).toBe(1);
  });

  it('changes nothing when SaaSus already sends there, and sends the test event once the source is active', async () => {
    const source = `aws.partner/saasus.io/${credentials.saasId}-1/event`;
    const pending = await setup(['--account', account, '--test'], { eventSourceName: source });
    expect(pending.code).toBe(1);
    expect(pending.output).toContain('already sends its partner events');
    expect(pending.output).toContain('The source is PENDING: deploy the stack first');
    expect(saasus.state.callCount('CreateEventBridgeTestEvent')).toBe(0);

    const active = await setup(['--account', account, '--test'], {
      eventSourceName: source,
      state: 'ACTIVE',
    });
    expect(active.code).toBe(0);
    expect(active.output).toContain('Your config already names it.');
    expect(active.output).toContain('SaaSus accepted the test event');
    expect(saves()).toBe(1);
    const [testEvent] = saasus.state
      .partnerEvents()
      .filter(
        (event) => (event.detail as { event_type?: string }).event_type === 'create_eventbridge_test_event',
      );
    expect(testEvent?.source).toBe(source);
  });

  it('refuses to move the source to another account or region without --force, then moves it with it', async () => {
    const refused = await setup(['--account', account, '--region', 'ap-northeast-1']);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('A SaaSus SaaS has one partner event source');
    expect(await client.getEventBridgeSettings()).toEqual({
      aws_account_id: account,
      aws_region: 'us-east-1',
    });
    expect(saves()).toBe(1);

    const moved = await setup(['--account', account, '--region', 'ap-northeast-1', '--force', '--wait', '0']);
    expect(moved.code).toBe(0);
    expect(moved.output).toContain(
      `Moved SaaSus partner events from account ${account} in us-east-1 to account ${account} in ap-northeast-1.`,
    );
    expect(await client.getEventBridgeSettings()).toEqual({
      aws_account_id: account,
      aws_region: 'ap-northeast-1',
    });
  });

  it('says what to pass for bad or missing arguments, before any call', async () => {
    const before = saasus.state.requests().length;
    expect(await setup([])).toMatchObject({ code: 2, output: expect.stringContaining('Pass --account') });
    expect(await setup(['--account', '12'])).toMatchObject({
      code: 2,
      output: expect.stringContaining('12-digit'),
    });
    expect(await setup(['--acount', account])).toMatchObject({
      code: 2,
      output: expect.stringContaining('unknown argument --acount'),
    });
    expect(saasus.state.requests().length).toBe(before);
  });

  it('reports a source that does not appear in time', async () => {
    const lines: string[] = [];
    const code = await run(['--account', '111111111111', '--wait', '0', '--force'], {
      config: parseDeploymentConfig(exampleConfigInput()),
      saasus: client,
      listEventSources: async () => [],
      print: (line) => lines.push(line),
    });
    expect(code).toBe(1);
    expect(lines.join('\n')).toContain('aws events list-event-sources --name-prefix aws.partner/saasus.io/');
  });

  it("the emulator refuses settings SaaSus would refuse, and reads or tests settings never saved with the spec's 500", async () => {
    await expect(
      client.saveEventBridgeSettings({ aws_account_id: '1', aws_region: 'us-east-1' }),
    ).rejects.toThrow('Invalid EventBridge settings');
    const fresh = await startSaasusEmulator({ credentials });
    try {
      const other = createSaasusClient({
        baseUrl: fresh.url,
        secrets: staticSecretSource({ s: credentials }),
        secretName: 's',
      });
      await expect(other.getEventBridgeSettings()).rejects.toMatchObject({ status: 500 });
      // The spec declares only 500 as this operation's error.
      await expect(other.sendEventBridgeTestEvent()).rejects.toMatchObject({ status: 500 });
    } finally {
      await fresh.close();
    }
  });
});
