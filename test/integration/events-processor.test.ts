import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentConfig } from '#shared/config';
import { parseEnv } from '#shared/env';
import { licenseEventDependencies } from '#shared/events/handler-support';
import { parseMarketplaceEvent } from '#shared/events/marketplace-eventbridge';
import {
  createLicenseEventProcessor,
  type FinalFlushRequest,
  type LicenseEventDependencies,
} from '#shared/events/processor';
import type { LicenseRecord } from '#shared/license/record';
import type { LicenseSignal } from '#shared/license/signal';
import { createRuntime, runtimeEnvSchema } from '#shared/runtime';
import { onlyProduct } from '../support/config.js';
import {
  agreementDetail,
  type EventsHarness,
  licenseDetail,
  marketplaceEvent,
  minute,
  type ProvisionedLicense,
  startEventsHarness,
} from '../support/events-harness.js';

/**
 * The event processor called directly with its dependencies (the runtime's real clients against
 * the emulators), to watch the final-flush hook and concurrent processing of one license.
 */

let h: EventsHarness;
let deps: LicenseEventDependencies;
beforeAll(async () => {
  h = await startEventsHarness({
    configure: (input) => {
      input.marketplace.pricingModel = 'contract-with-consumption';
    },
  });
  deps = licenseEventDependencies(createRuntime(parseEnv(runtimeEnvSchema)));
});
afterAll(async () => {
  await h?.close();
});

const signalOf = (event: ReturnType<typeof marketplaceEvent>): LicenseSignal => {
  const parsed = parseMarketplaceEvent(event);
  if (!parsed.ok) throw new Error(`unexpectedly ignored: ${parsed.ignored}`);
  return parsed.signal;
};

const licenseUpdated = (license: ProvisionedLicense, time: string, agreementId?: string) =>
  signalOf(
    marketplaceEvent({
      detailType: 'License Updated - Manufacturer',
      time,
      detail: licenseDetail(h.config, license, agreementId),
    }),
  );

const agreement = (
  kind: string,
  license: ProvisionedLicense,
  agreementId: string,
  time: string,
  extra = {},
) =>
  signalOf(
    marketplaceEvent({
      detailType: `Purchase Agreement ${kind} - Proposer`,
      time,
      detail: agreementDetail(license, agreementId, extra),
    }),
  );

const deprovisioned = (license: ProvisionedLicense, time: string) =>
  signalOf(
    marketplaceEvent({
      detailType: 'License Deprovisioned - Manufacturer',
      time,
      detail: licenseDetail(h.config, license),
    }),
  );

/** A processor whose final-flush hook records its calls (and fails while `failing` is set). */
const withFlushHook = (config: DeploymentConfig = deps.config) => {
  const calls: { licenseKey: string; request: FinalFlushRequest }[] = [];
  const hook = { failing: false };
  const processor = createLicenseEventProcessor({
    ...deps,
    config,
    requestFinalFlush: async (licenseKey, request) => {
      if (hook.failing) throw new Error('metering is unreachable');
      calls.push({ licenseKey, request });
    },
  });
  return { processor, calls, hook };
};

const lifecycleOf = async (license: ProvisionedLicense) =>
  (await h.license(license.licenseKey)).lifecycle as LicenseRecord;

describe('the final flush hook', () => {
  it('is called once per ending episode, with the license key and the final-usage window', async () => {
    const { processor, calls } = withFlushHook();
    const license = await h.provisionLicense({ entitlements: ['basic'] });
    const agreementId = `agmt-${randomUUID()}`;
    await processor.process(licenseUpdated(license, minute(1), agreementId));
    expect(calls).toEqual([]);

    const ended = agreement('Ended', license, agreementId, minute(5), { status: 'EXPIRED' });
    const outcome = await processor.process(ended);
    await processor.process(ended);
    await processor.process(deprovisioned(license, minute(30)));

    expect(outcome.actions[0]).toBe('flush-final-usage');
    expect(calls).toEqual([
      {
        licenseKey: license.licenseKey,
        request: {
          endingSince: minute(5),
          finalUsageWindowEndsAt: minute(65),
          detail: expect.objectContaining({ licenseKey: license.licenseKey, status: 'ending' }),
        },
      },
    ]);
    expect((await lifecycleOf(license)).finalFlushFor).toBe(minute(5));
    // The hook is the only `License Ending`: the outbox does not repeat it for a metered listing.
    expect(h.domainEvents(license.licenseKey).map((event) => event.detailType)).toEqual([
      'License Activated',
      'License Revoked',
      'Metering Stopped',
    ]);
  });

  it('is asked again after it failed, because the flush is recorded only once it returned', async () => {
    const { processor, calls, hook } = withFlushHook();
    const license = await h.provisionLicense();
    const agreementId = `agmt-${randomUUID()}`;
    await processor.process(licenseUpdated(license, minute(1), agreementId));
    const ended = agreement('Ended', license, agreementId, minute(5), { status: 'CANCELLED' });

    hook.failing = true;
    await expect(processor.process(ended)).rejects.toThrow('metering is unreachable');
    expect((await lifecycleOf(license)).finalFlushFor).toBeUndefined();
    hook.failing = false;
    await processor.process(ended);

    expect(calls.map((call) => call.licenseKey)).toEqual([license.licenseKey]);
    expect((await lifecycleOf(license)).finalFlushFor).toBe(minute(5));
  });

  it('is never called for a pure contract listing, which publishes License Ending as a transition', async () => {
    const contract = {
      ...deps.config,
      products: deps.config.products.map((product) => ({ ...product, pricingModel: 'contract' as const })),
    };
    const { processor, calls } = withFlushHook(contract);
    const license = await h.provisionLicense({ entitlements: ['pro'] });
    const agreementId = `agmt-${randomUUID()}`;
    await processor.process(licenseUpdated(license, minute(1), agreementId));
    await processor.process(agreement('Ended', license, agreementId, minute(5), { status: 'CANCELLED' }));

    expect(calls).toEqual([]);
    expect(h.domainEvents(license.licenseKey).map((event) => event.detailType)).toEqual([
      'License Activated',
      'License Ending',
    ]);
  });
});

describe('concurrency and order', () => {
  it('merges events processed at the same time on one license instead of overwriting', async () => {
    const { processor } = withFlushHook();
    const license = await h.provisionLicense({ entitlements: ['pro'] });
    const agreementId = `agmt-${randomUUID()}`;
    const signals = [
      licenseUpdated(license, minute(1), agreementId),
      agreement('Amended', license, agreementId, minute(2)),
      licenseUpdated(license, minute(3), agreementId),
      agreement('Amended', license, agreementId, minute(4)),
    ];

    await Promise.all(signals.map((signal) => processor.process(signal)));

    const lifecycle = await lifecycleOf(license);
    expect([...lifecycle.recentEvents].sort()).toEqual(
      signals.map((signal) => `${signal.time}|${signal.eventId}`).sort(),
    );
    expect(lifecycle.agreements[agreementId]?.amendedAt).toBe(minute(4));
    expect(lifecycle.licenseUpdatedAt).toBe(minute(3));
    expect((await h.license(license.licenseKey)).status).toBe('active');
    expect(h.domainEvents(license.licenseKey).map((event) => event.detailType)).toEqual([
      'License Activated',
    ]);
    expect(h.tenantPlan(license.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.pro);
  });

  it('keeps the newer entitlement snapshot when an older License Updated is processed last', async () => {
    const { processor } = withFlushHook();
    const license = await h.provisionLicense({ entitlements: ['pro'] });
    await processor.process(licenseUpdated(license, minute(10)));
    h.marketplace.setEntitlements(license.licenseArn, [{ dimension: 'basic', value: 1 }]);

    await processor.process(licenseUpdated(license, minute(5)));

    expect((await lifecycleOf(license)).entitlements).toEqual({
      observedAt: minute(10),
      dimensions: ['pro'],
    });
    expect(h.tenantPlan(license.tenantId)).toBe(onlyProduct(h.config).plans.byDimension.pro);
  });
});
