import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSaasusEmulator } from '#sandbox/emulators/saasus';
import { type Sandbox, startSandbox } from '#sandbox/index';
import { SANDBOX_ACCOUNT, SANDBOX_SAASUS_CREDENTIALS } from '#sandbox/runner';
import { createBrowserSession, type PageResponse } from '#sandbox/scenario';
import { parseDeploymentConfig } from '#shared/config';
import { createSaasusClient } from '#shared/saasus/client';
import { staticSecretSource } from '#shared/secrets';
import { run as setup } from '../../cli/commands/setup.js';
import { sellersOwnConfigInput } from '../support/config.js';

/**
 * docs/seller-guide.md, played in order against the emulators where AWS is needed: a seller's own
 * config passes the synth guardrails, `setup` creates the SaaSus partner event source and prints
 * the config line, the "deploy" is the sandbox running that config, and a buyer who subscribes
 * ends in a provisioned SaaSus tenant on the seller's branded pages. Each command the test plays
 * must be the one the guide prints, so the guide cannot drift from what works.
 */

const guide = readFileSync('docs/seller-guide.md', 'utf8');
const guideSays = (command: string) => expect(guide, `the guide shows: ${command}`).toContain(command);

const directory = mkdtempSync(join(tmpdir(), 'seller-guide-'));
const configFile = join(directory, 'prod.json');
let sandbox: Sandbox | undefined;

afterAll(async () => {
  await sandbox?.close();
});

const cdkSynth = (context: Record<string, unknown>) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_OUTDIR: join(directory, 'cdk.out'),
      CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
    },
  });

const formWith = (page: PageResponse, action: string) => {
  const form = page.forms.find((candidate) => candidate.action.endsWith(action));
  if (!form) throw new Error(`no form posting to ${action} on ${page.url}`);
  return form;
};

describe("the seller's guide, step by step", () => {
  it('reaches a provisioned tenant from a fresh config', async () => {
    // Step 4: copy the example and fill it in; partner events come from step 6.
    guideSays('cp config/example.json config/prod.json');
    const input = sellersOwnConfigInput();
    delete input.saasusEvents;
    input.stage = 'prod';
    writeFileSync(configFile, JSON.stringify(input, null, 2));
    guideSays('npx cdk synth -c configFile=config/prod.json --quiet');
    const synth = cdkSynth({ configFile });
    expect(synth.stderr).toBe('');
    expect(synth.status).toBe(0);

    // Step 6: setup points SaaSus at the account and prints the config line.
    guideSays('npx marketplace-bridge setup --stage prod --account 111122223333 --region us-east-1 --force');
    const saasus = await startSaasusEmulator({ credentials: SANDBOX_SAASUS_CREDENTIALS });
    const printed: string[] = [];
    try {
      const code = await setup(
        ['--account', SANDBOX_ACCOUNT, '--region', 'us-east-1', '--force', '--wait', '0'],
        {
          config: parseDeploymentConfig(input),
          saasus: createSaasusClient({
            baseUrl: saasus.url,
            secrets: staticSecretSource({ saasus: SANDBOX_SAASUS_CREDENTIALS }),
            secretName: 'saasus',
          }),
          listEventSources: async (prefix) =>
            saasus.state
              .partnerEventSources()
              .filter((source) => source.account === SANDBOX_ACCOUNT && source.name.startsWith(prefix))
              .map((source) => ({ name: source.name, state: 'PENDING' })),
          print: (line) => printed.push(line),
        },
      );
      expect(code).toBe(0);
    } finally {
      await saasus.close();
    }
    const line = /"saasusEvents": \{ "eventSourceName": "([^"]+)" \}/.exec(printed.join('\n'));
    expect(line?.[1]).toMatch(/^aws\.partner\/saasus\.io\//);
    input.saasusEvents = { eventSourceName: line?.[1] };
    writeFileSync(configFile, JSON.stringify(input, null, 2));

    // Step 7: deploy (here: the sandbox runs the stack this config synthesizes).
    guideSays('npx cdk deploy -c configFile=config/prod.json');
    expect(cdkSynth({}).stderr.trim()).toMatch(/^No config file: pass -c configFile=config\/<stage>\.json/);
    sandbox = await startSandbox({ port: 0, configFile, handlerLogs: false, log: () => {}, warm: false });
    expect(sandbox.stackName).toBe('MarketplaceBridge-prod');
    expect(sandbox.fulfillmentUrl).toBeDefined();

    // Steps 8-9: a buyer subscribes, lands on the branded registration page and registers.
    const buyer = createBrowserSession(sandbox.url);
    const home = await buyer.get('/');
    const handOff = await buyer.submit(formWith(home, '/actions/subscribe'), { emitEvents: '1' });
    const tokenPost = handOff.forms.find((form) => 'x-amzn-marketplace-token' in form.fields);
    if (!tokenPost) throw new Error('the buyer simulator posted no registration token');
    const registration = await buyer.submit(tokenPost);
    await sandbox.settle();
    expect(registration.status).toBe(200);
    expect(registration.html).toContain('<div class="product">Example Analytics</div>');
    expect(registration.html).toContain(
      'data-link="support" href="https:&#47;&#47;nimbus-analytics.jp&#47;support"',
    );
    const finish = await buyer.submit(formWith(registration, '/register'), {
      tenantName: 'Guide Reader KK',
      adminEmail: 'ada@guide-reader.jp',
      adminName: 'Ada Reader',
    });
    await sandbox.settle();
    expect(finish.status).toBe(200);
    expect(finish.html).toMatch(/<h1>Your account is (ready|being prepared)<\/h1>/);

    const tenant = sandbox.emulators.saasus.state
      .tenants()
      .find((candidate) => candidate.name === 'Guide Reader KK');
    expect(tenant).toMatchObject({ plan_id: 'plan-basic-7f3a' });
    expect(JSON.stringify(tenant?.attributes)).toContain('arn:aws:license-manager');
    expect(sandbox.emulators.saasus.state.tenantUsers(String(tenant?.id)).map((user) => user.email)).toEqual([
      'ada@guide-reader.jp',
    ]);
  }, 240_000);
});
