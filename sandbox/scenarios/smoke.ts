import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetEntitlementsCommand,
  MarketplaceEntitlementServiceClient,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { MarketplaceMeteringClient, ResolveCustomerCommand } from '@aws-sdk/client-marketplace-metering';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { tableDefinitions } from '#shared/tables';
import { sandboxProduct } from '../listing.js';
import { SANDBOX_IDOPERATION_AUTHORIZATION } from '../runner.js';
import type { Scenario } from '../scenario.js';

/** Every emulator and page answers: the sandbox is wired up, whatever the handlers do. */
export const smoke: Scenario = {
  name: 'smoke',
  description: 'every local service, emulator and page answers',
  async run({ sandbox, step, fetch, browser: sandboxBrowser }) {
    const { region } = sandbox.config;
    const sdk = {
      region,
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      maxAttempts: 1,
    };

    await step('the template was read', (check) => {
      check(
        sandbox.model.functions.length > 0,
        'the stack has at least one function',
        sandbox.model.functions,
      );
      check(
        sandbox.model.tables.length === tableDefinitions.length,
        `the stack has the ${tableDefinitions.length} state tables`,
        sandbox.model.tables,
      );
      check(sandbox.domainBusName !== undefined, 'the domain event bus is known');
    });

    await step('DynamoDB (dynalite) has the stack tables', async (check) => {
      const client = new DynamoDBClient({ ...sdk, endpoint: sandbox.dynamo.endpoint });
      const { TableNames = [] } = await client.send(new ListTablesCommand({}));
      for (const [id, name] of Object.entries(sandbox.tableNames)) {
        check(TableNames.includes(name), `table ${id} exists as ${name}`, TableNames);
      }
      client.destroy();
    });

    await step('Secrets Manager serves every seeded secret', async (check) => {
      const client = new SecretsManagerClient({ ...sdk, endpoint: sandbox.emulators.secretsManager.url });
      for (const secret of sandbox.secrets) {
        const output = await client.send(new GetSecretValueCommand({ SecretId: secret.name }));
        check(
          typeof output.SecretString === 'string' && output.SecretString.length > 0,
          `secret ${secret.name} (${secret.description})`,
        );
      }
      client.destroy();
    });

    await step('EventBridge accepts events and routes them', async (check) => {
      const bus = sandbox.domainBusName ?? 'default';
      const client = new EventBridgeClient({ ...sdk, endpoint: sandbox.emulators.eventBridge.url });
      const before = sandbox.router.history().length;
      const output = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: bus,
              Source: 'sandbox.smoke',
              DetailType: 'Smoke Test',
              Detail: JSON.stringify({ ok: true }),
            },
          ],
        }),
      );
      check(output.FailedEntryCount === 0, 'PutEvents accepted the entry', output);
      await sandbox.settle();
      const routed = sandbox.router.history().slice(before);
      check(
        routed.some((entry) => entry.busName === bus && entry.event['detail-type'] === 'Smoke Test'),
        `the event reached bus ${bus}`,
        routed,
      );
      client.destroy();
    });

    await step('the SaaSus emulator answers signed requests', async (check) => {
      const envs = await sandbox.saasus().listEnvs();
      check(
        envs.some((env) => env.id === sandbox.config.saasus.envId),
        `env ${sandbox.config.saasus.envId} exists`,
        envs,
      );
      const plans = await sandbox.saasus().listPricingPlans();
      for (const planId of Object.values(sandboxProduct(sandbox.config).plans.byDimension)) {
        check(
          plans.some((plan) => plan.id === planId),
          `plan ${planId} exists`,
          plans,
        );
      }
      const unsigned = await globalThis.fetch(new URL('/v1/auth/envs', sandbox.config.saasus.apiBaseUrl));
      check(unsigned.status === 401, 'an unsigned request is refused', unsigned.status);
    });

    await step('the Marketplace emulator resolves tokens and lists entitlements', async (check) => {
      const license = sandbox.emulators.marketplace.addLicense({ customerAwsAccountId: '999988887777' });
      const token = sandbox.emulators.marketplace.mintToken({
        customerAwsAccountId: '999988887777',
        licenseArn: license.licenseArn,
      });
      const metering = new MarketplaceMeteringClient({ ...sdk, endpoint: sandbox.emulators.marketplace.url });
      const resolved = await metering.send(new ResolveCustomerCommand({ RegistrationToken: token }));
      check.equal(resolved.LicenseArn, license.licenseArn, 'ResolveCustomer returns the license');
      check.equal(resolved.CustomerAWSAccountId, '999988887777', 'ResolveCustomer returns the buyer account');
      const entitlements = new MarketplaceEntitlementServiceClient({
        ...sdk,
        endpoint: sandbox.emulators.marketplace.url,
      });
      const listed = await entitlements.send(
        new GetEntitlementsCommand({
          ProductCode: sandboxProduct(sandbox.config).productCode,
          Filter: { LICENSE_ARN: [license.licenseArn] },
        }),
      );
      check(Array.isArray(listed.Entitlements), 'GetEntitlements answers', listed);
      metering.destroy();
      entitlements.destroy();
    });

    await step('the iDoperation emulator answers', async (check) => {
      const emulator = sandbox.emulators.idoperation;
      if (!emulator || !sandbox.config.idoperation) {
        check(sandbox.config.idoperation === undefined, 'iDoperation is not configured');
        return;
      }
      const base = sandbox.config.idoperation.baseUrl;
      const authorized = await globalThis.fetch(`${base}/users/00000000-0000-0000-0000-000000000000`, {
        headers: { authorization: SANDBOX_IDOPERATION_AUTHORIZATION, accept: 'application/json' },
      });
      check(
        authorized.status === 404,
        'an unknown user is 404 with the seeded authorization',
        authorized.status,
      );
      const anonymous = await globalThis.fetch(`${base}/users/x`);
      check(anonymous.status === 401, 'a request without authorization is 401', anonymous.status);
    });

    await step('the stack queues answer (SQS)', async (check) => {
      const client = new SQSClient({ ...sdk, endpoint: sandbox.sqsUrl });
      for (const queue of sandbox.sqs.queues()) {
        const output = await client.send(new GetQueueUrlCommand({ QueueName: queue.name }));
        check.equal(output.QueueUrl, queue.url, `queue ${queue.name} is reachable`);
      }
      check(true, `${sandbox.sqs.queues().length} queue(s) in the template`);
      client.destroy();
    });

    await step('the pages answer', async (check) => {
      const buyer = await fetch('/');
      const buyerHtml = await buyer.text();
      check(buyer.status === 200, 'GET / is 200', buyer.status);
      check(
        buyerHtml.includes('Subscribe on AWS Marketplace'),
        'the buyer simulator shows the subscribe form',
      );
      const dashboard = await fetch('/dashboard');
      const dashboardHtml = await dashboard.text();
      check(dashboard.status === 200, 'GET /dashboard is 200', dashboard.status);
      check(
        dashboardHtml.includes('Simulated clock') && dashboardHtml.includes('Licenses'),
        'the dashboard shows the clock and the licenses',
      );
      const partial = await fetch('/dashboard?partial=1');
      check(
        partial.status === 200 && !(await partial.text()).includes('<html'),
        'the dashboard refresh fragment answers',
      );
      const state = await fetch('/api/state');
      check(
        state.status === 200 && typeof ((await state.json()) as { clock?: unknown }).clock === 'object',
        'GET /api/state answers JSON',
      );
      if (sandbox.fulfillmentUrl) {
        const fulfillment = await fetch(sandbox.fulfillmentUrl);
        const signUp = [...sandbox.functions.values()].find((fn) =>
          sandbox.httpApis[0]?.api.routes.some((route) => route.functionLogicalId === fn.model.logicalId),
        );
        const available = signUp?.host.availability.available ?? false;
        check(
          available ? fulfillment.status < 500 : fulfillment.status === 503,
          available
            ? 'the fulfillment URL is served by the sign-up handler'
            : 'the fulfillment URL says sign-up is not available yet',
          fulfillment.status,
        );
      }
    });

    await step('the buyer simulator sends the browser to the fulfillment URL with a token', async (check) => {
      const browser = sandboxBrowser();
      const home = await browser.get('/');
      const subscribeForm = home.forms.find((form) => form.action.endsWith('/actions/subscribe'));
      check(subscribeForm !== undefined, 'the buyer simulator has the subscribe form');
      if (!subscribeForm || !sandbox.fulfillmentUrl) return;
      const redirect = await browser.submit(subscribeForm, { emitEvents: '' });
      const post = redirect.forms.find((form) => 'x-amzn-marketplace-token' in form.fields);
      check.equal(post?.action, sandbox.fulfillmentUrl, 'the page posts to the fulfillment URL');
      check(
        /^[A-Za-z0-9+/]{43}=$/.test(post?.fields['x-amzn-marketplace-token'] ?? ''),
        'with a registration token',
      );
      if (!post) return;
      const landing = await browser.submit(post);
      check(landing.status < 500, 'the fulfillment URL answers the token post', landing.status);
    });

    await step('the simulated clock advances', async (check) => {
      const before = sandbox.clock.nowMs();
      await sandbox.advanceClock(3_600_000);
      const moved = sandbox.clock.nowMs() - before;
      check(moved >= 3_600_000 && moved < 3_660_000, 'advancing one hour moves the clock by one hour', moved);
    });
  },
};
