import { randomBytes, randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { SimulatedClock, SimulatedTimers } from '#sandbox/clock';
import type { SaasusPartnerEvent } from '#sandbox/emulators/saasus';
import { LocalSqs, type QueuedMessage } from '#sandbox/sqs';
import { type DeploymentConfig, productFor } from '#shared/config';
import { signSaasusRequest } from '#shared/saasus/signature';
import type { LicenseItem } from '#shared/store/licenses';
import {
  type ConfigInput,
  type LocalWorld,
  lambdaContext as localLambdaContext,
  newAccountId,
  startLocalWorld,
} from './local-world.js';

export { type ConfigInput, newAccountId };

/**
 * The event functions' world (the local world of `./local-world.ts`: dynalite and the emulators,
 * the secrets, the environment the handlers read at cold start) plus a local SQS for the legacy
 * SNS queue. The harness imports the real handler modules on first use, like Lambda does.
 * Lambda's asynchronous retries and SQS partial batch responses are played by `deliver` and
 * `deliverBatch`.
 *
 * One harness per test file: the handler modules read their environment once, at import.
 */

export interface EventsHarnessOptions {
  /** Changes the example config before the harness uses it (pricing model, revocation, ...). */
  readonly configure?: (input: ConfigInput) => void;
}

export type EventHandlerName = 'marketplace' | 'legacy-sns' | 'saasus';

type AsyncHandler = (event: unknown, context: Context) => Promise<unknown>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** What Lambda's asynchronous invocation did with one event. */
export interface AsyncDelivery {
  /** Invocations made: the first plus the retries that were needed. */
  readonly attempts: number;
  /** The last invocation's result, when one succeeded. */
  readonly result?: unknown;
  /** Error messages of the failed invocations, in order. */
  readonly errors: readonly string[];
  /** Set when every attempt failed: the on-failure destination record sent to the dead-letter queue. */
  readonly deadLetter?: FailureRecord;
}

/** The shape of a Lambda on-failure destination record (what the DLQ message body holds). */
export interface FailureRecord {
  readonly version: '1.0';
  readonly timestamp: string;
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetriesExhausted';
    readonly approximateInvokeCount: number;
  };
  readonly requestPayload: unknown;
  readonly responseContext: {
    readonly statusCode: 200;
    readonly executedVersion: '$LATEST';
    readonly functionError: 'Unhandled';
  };
  readonly responsePayload: { readonly errorType: string; readonly errorMessage: string };
}

export interface ProvisionedLicense {
  readonly licenseKey: string;
  readonly productCode: string;
  readonly licenseArn: string;
  readonly account: string;
  readonly customerIdentifier: string;
  readonly tenantId: string;
  readonly adminUserId: string;
  readonly adminEmail: string;
  readonly directoryUserId: string;
}

/**
 * The local world's parts (`saasusClient` is for what a person would do in SaaSus: it emits
 * partner events), plus the event functions and the legacy SNS queue.
 */
export interface EventsHarness
  extends Pick<
    LocalWorld,
    | 'config'
    | 'saasus'
    | 'marketplace'
    | 'idoperation'
    | 'eventBridge'
    | 'store'
    | 'saasusClient'
    | 'logs'
    | 'domainEvents'
    | 'advanceSaasusClock'
    | 'close'
  > {
  /** The local SQS holding the legacy SNS queue and its dead-letter queue (`DEAD_LETTER_QUEUE_URL`). */
  readonly sqs: LocalSqs;
  /** Messages in the legacy SNS dead-letter queue, oldest first. */
  deadLetters(): QueuedMessage[];
  /** Invokes a handler once, as Lambda would (a fresh context per call). */
  invoke(name: 'marketplace' | 'saasus', event: unknown): Promise<unknown>;
  /** Lambda's asynchronous invocation: the first attempt plus `retries` retries, then the DLQ record. */
  deliver(name: 'marketplace' | 'saasus', event: unknown, retries?: number): Promise<AsyncDelivery>;
  /** An SQS batch to the legacy SNS handler. */
  deliverBatch(records: readonly SQSRecord[]): Promise<SQSBatchResponse>;
  /** A license of a new buyer, provisioned as sign-up leaves it: tenant, admin user with roles, directory user. */
  provisionLicense(options?: {
    entitlements?: readonly string[];
    /** Another configured product (default: the first). */
    productCode?: string;
    /** The same buyer's license of another product, whose tenant and admin this one joins. */
    sameTenantAs?: ProvisionedLicense;
  }): Promise<ProvisionedLicense>;
  license(licenseKey: string): Promise<LicenseItem>;
  /** The SaaSus tenant's current plan (null: none). */
  tenantPlan(tenantId: string): string | null;
  tenantUserIds(tenantId: string): string[];
  /** Role names of a tenant user in the configured env. */
  tenantUserRoles(tenantId: string, userId: string): string[];
  directoryUser(
    directoryUserId: string,
  ): { is_disabled: number; login_id: string; services: number[] } | undefined;
  /** Partner events the SaaSus emulator emitted since the last call. */
  takePartnerEvents(): SaasusPartnerEvent[];
  /** A signed SaaSus API call the client does not offer (e.g. DeleteTenant); returns the status. */
  saasusRequest(method: string, path: string, body?: unknown): Promise<number>;
}

export const saasusCredentials = {
  saasId: 'events-harness-saas',
  apiKey: 'events-harness-api-key',
  secretKey: 'events-harness-secret-key',
} as const;
export const idoperationAuthorization = 'Bearer events-harness-idoperation';
export const domainEventBus = 'marketplace-bridge-events-test';
/** Logical ids of the legacy SNS queue and its dead-letter queue in the harness's local SQS. */
export const legacySnsQueue = 'LegacySnsQueue';
export const legacySnsDeadLetters = 'LegacySnsDeadLetters';

export const lambdaContext = (functionName = 'events'): Context => localLambdaContext(functionName);

/** Base of the SaaSus emulator's business clock: partner events carry times from here on. */
const saasusClockStart = Date.parse('2026-07-01T00:00:00.000Z');

export const startEventsHarness = async (options: EventsHarnessOptions = {}): Promise<EventsHarness> => {
  const sqs = new LocalSqs(
    [
      {
        logicalId: legacySnsQueue,
        queueName: undefined,
        fifo: false,
        contentBasedDeduplication: false,
        visibilityTimeoutSeconds: 360,
        redrive: { deadLetterQueue: { kind: 'queue', logicalId: legacySnsDeadLetters }, maxReceiveCount: 5 },
      },
      {
        logicalId: legacySnsDeadLetters,
        queueName: undefined,
        fifo: false,
        contentBasedDeduplication: false,
        visibilityTimeoutSeconds: 30,
        redrive: undefined,
      },
    ],
    {
      account: '000000000000',
      region: 'us-east-1',
      namePrefix: 'events-harness',
      now: () => Date.now(),
      timers: new SimulatedTimers(SimulatedClock.create()),
    },
  );
  const sqsUrl = await sqs.start();
  const world = await startLocalWorld({
    tablePrefix: 'events',
    saasusCredentials,
    idoperationAuthorization,
    domainEventBus,
    configure: options.configure,
    saasusClockStart,
    env: {
      DEAD_LETTER_QUEUE_URL: sqs.queue(legacySnsDeadLetters).url,
      AWS_ENDPOINT_URL_SQS: sqsUrl,
    },
  });
  const { config, saasus, marketplace, idoperation, store, saasusClient } = world;

  const handlers = new Map<EventHandlerName, Promise<unknown>>();
  const load = <T>(name: EventHandlerName): Promise<T> => {
    if (!handlers.has(name)) {
      const module =
        name === 'marketplace'
          ? import('../../functions/events/marketplace.js')
          : name === 'saasus'
            ? import('../../functions/events/saasus.js')
            : import('../../functions/events/legacy-sns.js');
      handlers.set(
        name,
        module.then((loaded) => loaded.handler),
      );
    }
    return handlers.get(name) as Promise<T>;
  };

  const invoke: EventsHarness['invoke'] = async (name, event) =>
    (await load<AsyncHandler>(name))(structuredClone(event), lambdaContext(name));

  let seenPartnerEvents = 0;

  return {
    config,
    saasus,
    marketplace,
    idoperation,
    eventBridge: world.eventBridge,
    store,
    saasusClient,
    logs: world.logs,
    sqs,
    deadLetters: () => sqs.messages(legacySnsDeadLetters),
    invoke,
    async deliver(name, event, retries = 2) {
      const errors: string[] = [];
      for (let attempt = 1; attempt <= retries + 1; attempt++) {
        try {
          const result = await invoke(name, event);
          return { attempts: attempt, result, errors };
        } catch (error) {
          errors.push(error instanceof Error ? error.message : String(error));
        }
      }
      const last = errors.at(-1) ?? '';
      return {
        attempts: retries + 1,
        errors,
        deadLetter: {
          version: '1.0',
          timestamp: new Date().toISOString(),
          requestContext: {
            requestId: randomUUID(),
            functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}:$LATEST`,
            condition: 'RetriesExhausted',
            approximateInvokeCount: retries + 1,
          },
          requestPayload: event,
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: { errorType: 'Error', errorMessage: last },
        },
      };
    },
    async deliverBatch(records) {
      return (await load<SqsHandler>('legacy-sns'))(
        { Records: structuredClone([...records]) },
        lambdaContext('legacy-sns'),
      );
    },
    async provisionLicense(provision = {}) {
      const product = productFor(config, provision.productCode ?? config.products[0]?.productCode ?? '');
      const joined = provision.sameTenantAs;
      const account = joined?.account ?? newAccountId();
      const license = marketplace.addLicense({
        customerAwsAccountId: account,
        productCode: product.productCode,
      });
      if (provision.entitlements) {
        marketplace.setEntitlements(
          license.licenseArn,
          provision.entitlements.map((dimension) => ({ dimension, value: 1 })),
        );
      }
      const legacy = product.identityMode === 'legacy';
      const licenseKey = legacy ? license.customerIdentifier : license.licenseArn;
      await store.upsertIdentity({
        licenseKey,
        identityMode: product.identityMode,
        customerAwsAccountId: account,
        productCode: product.productCode,
        ...(legacy ? { customerIdentifier: license.customerIdentifier } : { licenseArn: license.licenseArn }),
      });
      const seeded = joined
        ? {
            suffix: randomBytes(4).toString('hex'),
            adminEmail: joined.adminEmail,
            tenantId: joined.tenantId,
            adminUserId: joined.adminUserId,
            directoryUserId: joined.directoryUserId,
          }
        : await (async () => {
            const suffix = randomBytes(4).toString('hex');
            const adminEmail = `admin-${suffix}@buyer.example`;
            const user = saasus.seedUser({ email: adminEmail });
            const tenant = saasus.seedTenant({
              name: `Buyer ${suffix}`,
              back_office_staff_email: 'ops@seller.example',
            });
            const tenantId = String(tenant.id);
            const adminUserId = String(user.id);
            await saasusClient.createTenantUser(tenantId, { email: adminEmail, attributes: {} });
            await saasusClient.addTenantUserRoles(
              tenantId,
              adminUserId,
              config.saasus.envId,
              config.saasus.adminRoleNames,
            );
            const directoryUser = idoperation.seedUser({
              login_id: adminEmail,
              name: `admin-${suffix}`,
              is_external: 1,
            });
            return { suffix, adminEmail, tenantId, adminUserId, directoryUserId: directoryUser.id };
          })();
      const { suffix, adminEmail, tenantId, adminUserId } = seeded;
      await store.setAttributes(licenseKey, { tenantId });
      const steps: [string, unknown][] = [
        ['registration', { tenantName: `Buyer ${suffix}`, adminEmail, adminName: `Admin ${suffix}` }],
        ['saasUser', { userId: adminUserId }],
        ['tenant', { tenantId }],
        ['tenantUser', { userId: adminUserId }],
        ['role', { envId: config.saasus.envId, roleNames: config.saasus.adminRoleNames }],
        ['directoryUser', { userId: seeded.directoryUserId }],
        ['completed', { at: new Date().toISOString() }],
      ];
      for (const [step, value] of steps) await store.recordProvisioningStep(licenseKey, step, value);
      // Partner events of the seeding calls are not part of any test.
      seenPartnerEvents = saasus.state.partnerEvents().length;
      return {
        licenseKey,
        productCode: product.productCode,
        licenseArn: license.licenseArn,
        account,
        customerIdentifier: license.customerIdentifier,
        tenantId,
        adminUserId,
        adminEmail,
        directoryUserId: seeded.directoryUserId,
      };
    },
    async license(licenseKey) {
      const item = await store.get(licenseKey);
      if (!item) throw new Error(`license ${licenseKey} does not exist`);
      return item;
    },
    tenantPlan: (tenantId) => {
      const planId = saasus.state.tenant(tenantId)?.plan_id;
      return typeof planId === 'string' ? planId : null;
    },
    tenantUserIds: (tenantId) =>
      saasus.state
        .tenantUsers(tenantId)
        .map((user) => String(user.id))
        .sort(),
    tenantUserRoles: (tenantId, userId) => {
      const member = saasus.state.tenantUsers(tenantId).find((user) => user.id === userId);
      const envs = (member?.envs ?? []) as { id: number; roles: { role_name: string }[] }[];
      return (envs.find((env) => env.id === config.saasus.envId)?.roles ?? [])
        .map((role) => role.role_name)
        .sort();
    },
    directoryUser: (directoryUserId) => idoperation.users().find((user) => user.id === directoryUserId),
    domainEvents: world.domainEvents,
    advanceSaasusClock: world.advanceSaasusClock,
    takePartnerEvents: () => {
      const events = saasus.state.partnerEvents();
      const fresh = events.slice(seenPartnerEvents);
      seenPartnerEvents = events.length;
      return fresh;
    },
    async saasusRequest(method, path, body) {
      const url = new URL(path, saasus.url);
      const text = body === undefined ? undefined : JSON.stringify(body);
      const response = await fetch(url, {
        method,
        headers: {
          authorization: signSaasusRequest({
            method,
            url,
            body: text,
            ...saasusCredentials,
            now: new Date(),
          }),
          ...(text === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(text === undefined ? {} : { body: text }),
      });
      await response.text();
      return response.status;
    },
    close: async () => {
      await Promise.all([world.close(), sqs.close()]);
    },
  };
};

// --- events as AWS and SaaSus deliver them ----------------------------------------------------------

/** Times from a fixed base, so each test states the order of its events. */
export const minute = (n: number): string =>
  new Date(Date.parse('2026-07-01T10:00:00.000Z') + n * 60_000).toISOString();

export interface MarketplaceEventInput {
  readonly detailType: string;
  readonly time: string;
  readonly id?: string;
  readonly detail: Record<string, unknown>;
}

/** An `aws.agreement-marketplace` event on the default bus. */
export const marketplaceEvent = (input: MarketplaceEventInput) => ({
  version: '0',
  id: input.id ?? randomUUID(),
  'detail-type': input.detailType,
  source: 'aws.agreement-marketplace',
  account: '000000000000',
  time: input.time.replace(/\.\d{3}Z$/, 'Z'),
  region: 'us-east-1',
  resources: [],
  detail: input.detail,
});

export const agreementDetail = (
  license: Pick<ProvisionedLicense, 'account'>,
  agreementId: string,
  extra: Record<string, unknown> = {},
) => ({
  requestId: randomUUID(),
  catalog: 'AWSMarketplace',
  agreement: { id: agreementId, ...extra },
  acceptor: { accountId: license.account },
  proposer: { accountId: '000000000000' },
  offer: { id: `offer-${agreementId}` },
});

export const licenseDetail = (
  config: DeploymentConfig,
  license: Pick<ProvisionedLicense, 'account' | 'licenseArn'> & { productCode?: string },
  agreementId?: string,
) => ({
  requestId: randomUUID(),
  catalog: 'AWSMarketplace',
  license: { arn: license.licenseArn },
  product: (({ productId, productCode }) => ({ id: productId, code: productCode }))(
    productFor(config, license.productCode ?? config.products[0]?.productCode ?? ''),
  ),
  acceptor: { accountId: license.account },
  ...(agreementId ? { agreement: { id: agreementId } } : {}),
});

/** An SQS record carrying an SNS notification envelope (raw delivery off). */
export const snsRecord = (input: {
  readonly action: string;
  readonly customerIdentifier: string;
  readonly productCode: string;
  readonly time: string;
  readonly messageId?: string;
  readonly extra?: Record<string, unknown>;
}): SQSRecord => ({
  messageId: randomUUID(),
  receiptHandle: randomBytes(16).toString('hex'),
  body: JSON.stringify({
    Type: 'Notification',
    MessageId: input.messageId ?? randomUUID(),
    TopicArn: `arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-${input.productCode}`,
    Message: JSON.stringify({
      action: input.action,
      'customer-identifier': input.customerIdentifier,
      'product-code': input.productCode,
      ...input.extra,
    }),
    Timestamp: input.time,
    SignatureVersion: '1',
  }),
  attributes: sqsAttributes(),
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:legacy-sns',
  awsRegion: 'us-east-1',
});

/** An SQS record with an arbitrary body (e.g. a malformed one). */
export const rawSqsRecord = (body: string): SQSRecord => ({
  ...snsRecord({ action: 'subscribe-success', customerIdentifier: 'x', productCode: 'x', time: minute(0) }),
  messageId: randomUUID(),
  body,
});

const sqsAttributes = (): SQSRecord['attributes'] => ({
  ApproximateReceiveCount: '1',
  SentTimestamp: String(Date.now()),
  SenderId: 'AIDAEXAMPLE',
  ApproximateFirstReceiveTimestamp: String(Date.now()),
});
