import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { awsJsonHandler, startServer } from '#sandbox/emulators/http';
import { type MarketplaceEmulator, startMarketplaceEmulator } from '#sandbox/emulators/marketplace';
import { type SaasusEmulator, startSaasusEmulator } from '#sandbox/emulators/saasus';
import type { DeploymentConfig, Product, SingleProductConfigInput } from '#shared/config';
import { normaliseProducts, parseDeploymentConfig } from '#shared/config';
import type { LicenseRecord } from '#shared/license/record';
import { createMeteringClient } from '#shared/marketplace/clients';
import { dayOf } from '#shared/metering/hours';
import {
  createUsageSender,
  type MeteringDeps,
  saasusDayCounts,
  type UsageSender,
} from '#shared/metering/pipeline';
import {
  createLedgerStore,
  type LedgerItem,
  type LedgerStore,
  meteringAttributes,
} from '#shared/metering/store';
import { createSaasusClient, type SaasusClient } from '#shared/saasus/client';
import { staticSecretSource } from '#shared/secrets';
import { createLicenseStore, type LicenseStore } from '#shared/store/licenses';
import { meteringShardOf } from '#shared/tables';
import { saasusContract } from '#test/support/saasus-contract';
import { exampleConfigInput } from '../support/config.js';
import { startDynalite } from '../support/dynalite.js';

/**
 * One dynalite, one Marketplace emulator and one SaaSus emulator, all on a simulated clock, plus
 * helpers to create licenses (Licenses item + emulated buyer + SaaSus tenant) and usage. Tests
 * use fresh license keys, so several scenarios share one harness.
 */

export const HOUR = 3_600_000;
export const at = (iso: string): Date => new Date(iso);
export const hoursAfter = (base: Date, hours: number): Date => new Date(base.getTime() + hours * HOUR);

export const saasusCredentials = {
  saasId: 'saas-metering',
  apiKey: 'key-metering',
  secretKey: 'secret-metering',
};
const secretName = 'metering/saasus';
const noSleep = async () => {};

export interface HarnessOptions {
  readonly prefix: string;
  readonly metering?: SingleProductConfigInput['metering'];
  readonly pricingModel?: Product['pricingModel'];
  /** Marketplace quota per second; the emulator throttles above it (real time). */
  readonly throttlePerSecond?: number;
  readonly start: Date;
  /** What SaaSus's `direct` overwrites (undocumented): the second's count (default) or the day's. */
  readonly saasusDirect?: 'second' | 'day';
  /** Listings after the example's, making the config a `products` list. */
  readonly extraProducts?: readonly Record<string, unknown>[];
}

/** A license as the tests see it. */
export interface TestLicense {
  readonly licenseKey: string;
  readonly tenantId: string;
  readonly account: string;
}

export const lifecycleFor = (events: {
  activeAt: Date;
  endingAt?: Date;
  deprovisionedAt?: Date;
}): LicenseRecord => ({
  version: 1,
  agreements: {
    'agmt-1': {
      firstSeenAt: events.activeAt.toISOString(),
      created: { at: events.activeAt.toISOString(), intent: 'NEW' },
      ...(events.endingAt ? { ended: { at: events.endingAt.toISOString(), status: 'CANCELLED' } } : {}),
    },
  },
  ...(events.deprovisionedAt ? { deprovisionedAt: events.deprovisionedAt.toISOString() } : {}),
  recentEvents: [],
});

export const startHarness = async (options: HarnessOptions) => {
  const input = exampleConfigInput();
  const single = {
    ...input,
    marketplace: {
      ...input.marketplace,
      pricingModel: options.pricingModel ?? input.marketplace.pricingModel,
    },
    metering: { ...input.metering, ...options.metering },
  };
  const config: DeploymentConfig = parseDeploymentConfig(
    options.extraProducts
      ? (() => {
          const normalised = normaliseProducts(single) as { products: unknown[] };
          return { ...normalised, products: [...normalised.products, ...options.extraProducts] };
        })()
      : single,
  );
  const [firstProduct] = config.products;
  if (!firstProduct) throw new Error('no product');
  const clock = { now: options.start };
  const now = () => clock.now;
  const local = await startDynalite(options.prefix);
  const marketplace: MarketplaceEmulator = await startMarketplaceEmulator({
    productCode: firstProduct.productCode,
    otherProductCodes: config.products.slice(1).map((product) => product.productCode),
    identityMode: 'license',
    now,
    meteringWindowHours: config.metering.allowedWindowHours,
    dimensions: config.products.flatMap((product) => product.meteringUnits.map((unit) => unit.dimension)),
    ...(options.throttlePerSecond === undefined
      ? {}
      : { throttle: { callsPerSecond: options.throttlePerSecond } }),
  });
  const saasusEmulator: SaasusEmulator = await startSaasusEmulator({
    credentials: saasusCredentials,
    now,
    onExchange: saasusContract.observe,
    meteringTimeZone: config.metering.saasusDayTimeZone,
    ...(options.saasusDirect ? { meteringDirect: options.saasusDirect } : {}),
  });
  const saasus: SaasusClient = createSaasusClient({
    baseUrl: saasusEmulator.url,
    secrets: staticSecretSource({ [secretName]: saasusCredentials }),
    secretName,
    retry: { sleep: noSleep },
  });
  const meteringClient = createMeteringClient({
    region: 'us-east-1',
    endpoint: marketplace.url,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const licenses: LicenseStore = createLicenseStore({
    client: local.client,
    tableName: local.tables.Licenses,
  });
  const ledger: LedgerStore = createLedgerStore({
    client: local.client,
    tableName: local.tables.MeteringLedger,
  });
  const documents = DynamoDBDocumentClient.from(local.client);
  const defaultSender = createUsageSender({ client: meteringClient, sleep: noSleep });

  const addLicense = async (events: {
    activeAt: Date;
    endingAt?: Date;
    deprovisionedAt?: Date;
    withTenant?: boolean;
    /** Store the item in one write, as if a metering pass at activation had captured this baseline. */
    baseline?: Record<string, number>;
    /** Another configured product (default: the first). */
    productCode?: string;
    /** The same buyer's license of another product, whose account and tenant this one shares. */
    sameTenantAs?: TestLicense;
  }): Promise<TestLicense> => {
    const productCode = events.productCode ?? firstProduct.productCode;
    const account = events.sameTenantAs?.account ?? String(100_000_000_000 + randomBytes(4).readUInt32BE(0));
    const emulated = marketplace.addLicense({ customerAwsAccountId: account, productCode });
    const tenantId =
      events.sameTenantAs?.tenantId ??
      String(
        saasusEmulator.seedTenant({
          name: `tenant of ${emulated.licenseArn}`,
          back_office_staff_email: 'backoffice@example.com',
        }).id,
      );
    if (events.baseline) {
      const timestamp = events.activeAt.toISOString();
      await documents.send(
        new PutCommand({
          TableName: local.tables.Licenses,
          Item: {
            licenseKey: emulated.licenseArn,
            identityMode: 'license',
            licenseArn: emulated.licenseArn,
            customerAwsAccountId: account,
            productCode,
            status: 'active',
            meteringShard: meteringShardOf(emulated.licenseArn),
            createdAt: timestamp,
            updatedAt: timestamp,
            version: 0,
            tenantId,
            lifecycle: lifecycleFor(events),
            [meteringAttributes.baseline]: {
              episode: timestamp,
              day: dayOf(events.activeAt, config.metering.saasusDayTimeZone),
              counts: events.baseline,
              capturedAt: timestamp,
            },
          },
        }),
      );
      return { licenseKey: emulated.licenseArn, tenantId, account };
    }
    await licenses.upsertIdentity({
      licenseKey: emulated.licenseArn,
      identityMode: 'license',
      licenseArn: emulated.licenseArn,
      customerAwsAccountId: account,
      productCode,
    });
    await setLifecycle(emulated.licenseArn, events);
    if (events.withTenant !== false) await licenses.setAttributes(emulated.licenseArn, { tenantId });
    return { licenseKey: emulated.licenseArn, tenantId, account };
  };

  const setLifecycle = async (
    licenseKey: string,
    events: { activeAt: Date; endingAt?: Date; deprovisionedAt?: Date },
  ) => {
    const status = events.deprovisionedAt ? 'ended' : events.endingAt ? 'ending' : 'active';
    await licenses.setAttributes(licenseKey, { lifecycle: lifecycleFor(events), status });
  };

  /** Adds usage of a SaaSus unit at an instant (SaaSus counts it in that instant's day). */
  const addUsage = async (tenantId: string, unit: string, when: Date, count: number) => {
    await saasus.updateMeteringCountAt(tenantId, unit, Math.floor(when.getTime() / 1000), {
      method: 'add',
      count,
    });
  };

  const deps = (
    overrides: Partial<Omit<MeteringDeps, 'config'>> & {
      config?: DeploymentConfig;
      sender?: UsageSender;
    } = {},
  ): MeteringDeps => ({
    config,
    licenses,
    ledger,
    readDayCounts: saasusDayCounts(saasus),
    sender: defaultSender,
    ...overrides,
  });

  /** The license's ledger items, oldest first. */
  const ledgerOf = (licenseKey: string, from = at('2000-01-01T00:00:00.000Z')): Promise<LedgerItem[]> =>
    ledger.read(licenseKey, from);

  const billedFor = (licenseKey: string) =>
    marketplace.billedRecords().filter((record) => record.licenseArn === licenseKey);

  return {
    config,
    clock,
    local,
    marketplace,
    saasusEmulator,
    saasus,
    meteringClient,
    licenses,
    ledger,
    addLicense,
    setLifecycle,
    addUsage,
    deps,
    ledgerOf,
    billedFor,
    close: async () => {
      meteringClient.destroy();
      await Promise.all([marketplace.close(), saasusEmulator.close(), local.close()]);
    },
  };
};

export type Harness = Awaited<ReturnType<typeof startHarness>>;

/** A minimal SQS (SendMessageBatch, AWS JSON) that records messages and can refuse entries. */
export const startQueue = async () => {
  const received: string[] = [];
  let refuse = 0;
  const server = await startServer(
    awsJsonHandler('AmazonSQS', {
      SendMessageBatch: (input) => {
        const entries = input.Entries as Array<{ Id: string; MessageBody: string }>;
        const successful = [];
        const failed = [];
        for (const entry of entries) {
          if (refuse > 0) {
            refuse--;
            failed.push({ Id: entry.Id, SenderFault: false, Code: 'InternalError', Message: 'try again' });
            continue;
          }
          received.push(entry.MessageBody);
          successful.push({
            Id: entry.Id,
            MessageId: randomUUID(),
            MD5OfMessageBody: createHash('md5').update(entry.MessageBody).digest('hex'),
          });
        }
        return { Successful: successful, Failed: failed };
      },
    }),
  );
  return {
    url: server.url,
    queueUrl: `${server.url}/000000000000/metering-work`,
    received,
    refuseNext: (count: number) => {
      refuse = count;
    },
    close: () => server.close(),
  };
};
