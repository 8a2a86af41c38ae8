import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeploymentConfig, type Product, parseDeploymentConfig } from '#shared/config';
import { parseMarketplaceEvent } from '#shared/events/marketplace-eventbridge';
import { parseMarketplaceSnsMessage, type SnsAction } from '#shared/events/marketplace-sns';
import { desiredEffects, directoryServicesFor, type Registration } from '#shared/license/effects';
import { type LicenseCandidate, licenseLookupFor, pickLicense } from '#shared/license/locate';
import { type ObservedState, type ReconcileAction, reconcile } from '#shared/license/reconcile';
import {
  applySignal,
  initialRecord,
  type LicenseRecord,
  recordEntitlements,
  recordFinalFlush,
} from '#shared/license/record';
import type { LicenseSignal } from '#shared/license/signal';
import { deriveStatus } from '#shared/license/status';
import { domainEventsFor } from '#shared/license/transitions';
import { effectConfig, exampleConfigInput, onlyProduct } from '../support/config.js';

/**
 * Convergence: a generated history of Marketplace events (EventBridge and SNS, renewals,
 * replacements, cancellations, deprovisions, entitlement changes) for one to three licenses is
 * delivered once in time order and once shuffled with duplicates. A simulated handler parses,
 * locates, applies, reconciles and acts on an in-memory SaaSus + directory after every delivery.
 * Both runs must end with the same records, statuses and external world, including the services
 * of the directory users of every license that still grants access (a revoked license's directory
 * users are deliberately left as they were, so theirs may depend on the history: that no services
 * call reaches them is checked at every delivery instead).
 */

// ---------- scenario generation ----------

type Step =
  | {
      kind: 'renew';
      how: 'link' | 'status' | 'both' | 'replace';
      endLater: boolean;
      dims: string[];
      gap: number;
    }
  | { kind: 'cancel'; status: string | null; deprovisionAfter: number | null; gap: number }
  | { kind: 'new-agreement'; dims: string[]; gap: number }
  | { kind: 'update'; dims: string[]; gap: number }
  | { kind: 'amend'; gap: number }
  | { kind: 'deprovision'; gap: number }
  | { kind: 'sns'; action: SnsAction; dims: string[]; gap: number }
  | { kind: 'copy'; gap: number };

interface LicenseHistorySpec {
  readonly start: 'eventbridge' | 'sns' | 'sns-fail';
  readonly steps: readonly Step[];
}

interface ConfigSpec {
  readonly pricingModel: Product['pricingModel'];
  readonly tenantUsers: 'keep' | 'remove';
  readonly disableDirectoryUsers: boolean;
  readonly revokedPlan: boolean;
  /** `partial`: only the basic plan has a servicesByPlan entry (EPM), pro falls back to PAM. */
  readonly services: 'example' | 'partial';
}

const dims = fc.subarray(['basic', 'pro', 'storage_gb']);
const gap = fc.integer({ min: 0, max: 3 });

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('renew' as const),
    how: fc.constantFrom('link' as const, 'status' as const, 'both' as const, 'replace' as const),
    endLater: fc.boolean(),
    dims,
    gap,
  }),
  fc.record({
    kind: fc.constant('cancel' as const),
    status: fc.constantFrom('CANCELLED', 'EXPIRED', 'TERMINATED', null),
    deprovisionAfter: fc.option(fc.integer({ min: 0, max: 70 })),
    gap,
  }),
  fc.record({ kind: fc.constant('new-agreement' as const), dims, gap }),
  fc.record({ kind: fc.constant('update' as const), dims, gap }),
  fc.record({ kind: fc.constant('amend' as const), gap }),
  fc.record({ kind: fc.constant('deprovision' as const), gap }),
  fc.record({
    kind: fc.constant('sns' as const),
    action: fc.constantFrom<SnsAction>(
      'subscribe-success',
      'subscribe-fail',
      'unsubscribe-pending',
      'unsubscribe-success',
      'entitlement-updated',
    ),
    dims,
    gap,
  }),
  fc.record({ kind: fc.constant('copy' as const), gap: fc.constant(0) }),
);

const licenseHistory: fc.Arbitrary<LicenseHistorySpec> = fc.record({
  start: fc.constantFrom('eventbridge' as const, 'sns' as const, 'sns-fail' as const),
  steps: fc.array(step, { maxLength: 8 }),
});

const configSpec: fc.Arbitrary<ConfigSpec> = fc.record({
  pricingModel: fc.constantFrom(
    'subscription' as const,
    'contract' as const,
    'contract-with-consumption' as const,
  ),
  tenantUsers: fc.constantFrom('keep' as const, 'remove' as const),
  disableDirectoryUsers: fc.boolean(),
  revokedPlan: fc.boolean(),
  services: fc.constantFrom('example' as const, 'partial' as const),
});

const configs = new Map<string, DeploymentConfig>();
const configFor = (spec: ConfigSpec): DeploymentConfig => {
  const key = JSON.stringify(spec);
  const cached = configs.get(key);
  if (cached) return cached;
  const input = exampleConfigInput();
  input.marketplace.pricingModel = spec.pricingModel;
  if (spec.pricingModel === 'contract') input.metering = { ...input.metering, units: [] };
  if (spec.revokedPlan) input.plans.revokedPlanId = '0f8d6c2e-9999-4a7b-9c3d-000000000009';
  input.revocation = { tenantUsers: spec.tenantUsers, disableDirectoryUsers: spec.disableDirectoryUsers };
  if (spec.services === 'partial' && input.idoperation) {
    input.idoperation.servicesByPlan = { [input.plans.byDimension.basic as string]: [2] };
  }
  const config = parseDeploymentConfig(input);
  configs.set(key, config);
  return config;
};

// ---------- raw events, as AWS would send them ----------

interface License {
  readonly arn: string;
  readonly account: string;
  readonly customerIdentifier: string;
  readonly registration: Registration;
}

const licenseNumber = (index: number): License => ({
  arn: `arn:aws:license-manager::123456789012:license:l-${index}`,
  account: `84573528413${index}`,
  customerIdentifier: `CUSTOMER${index}EXAMPLE`,
  registration: {
    tenantId: `tenant-${index}`,
    users: [{ userId: `user-${index}-a`, directoryUserId: `dir-${index}-a` }, { userId: `user-${index}-b` }],
  },
});

const minuteTime = (minute: number) => new Date(Date.UTC(2026, 6, 1, 9, 0) + minute * 60_000).toISOString();

interface GeneratedEvent {
  readonly signal: LicenseSignal;
  /** What GetEntitlements returns for the license as of this event (license updates only). */
  readonly dimensions?: readonly string[];
}

/** Builds one license's raw events from its steps and parses them like the handlers do. */
const buildLicenseEvents = (index: number, spec: LicenseHistorySpec): GeneratedEvent[] => {
  const license = licenseNumber(index);
  const events: GeneratedEvent[] = [];
  let minute = 0;
  let agreements = 0;
  let current: string | undefined;
  let lastAgreementEvent: Record<string, unknown> | undefined;
  const nextId = () => `L${index}-E${events.length}`;

  const eventBridge = (
    detailType: string,
    at: number,
    detail: Record<string, unknown>,
    dimensions?: string[],
  ) => {
    const raw = {
      version: '0',
      id: nextId(),
      'detail-type': detailType,
      source: 'aws.agreement-marketplace',
      account: '123456512334',
      time: minuteTime(at),
      region: 'us-east-1',
      resources: [],
      detail: { catalog: 'AWSMarketplace', acceptor: { accountId: license.account }, ...detail },
    };
    if (detailType.startsWith('Purchase Agreement')) lastAgreementEvent = raw;
    const outcome = parseMarketplaceEvent(raw);
    if (!outcome.ok) throw new Error(`generated event ignored: ${outcome.ignored}`);
    events.push({ signal: outcome.signal, ...(dimensions ? { dimensions } : {}) });
  };
  const agreementEvent = (
    type: 'Created' | 'Amended' | 'Ended',
    at: number,
    agreement: Record<string, unknown>,
  ) => eventBridge(`Purchase Agreement ${type} - Proposer`, at, { agreement });
  const licenseEvent = (type: 'Updated' | 'Deprovisioned', at: number, dimensions?: string[]) =>
    eventBridge(
      `License ${type} - Manufacturer`,
      at,
      {
        // Half the licenses get the published ARN form without the `arn:` prefix.
        license: { arn: index % 2 === 0 ? license.arn : license.arn.slice('arn:'.length) },
        ...(current ? { agreement: { id: current } } : {}),
      },
      dimensions,
    );
  const sns = (action: SnsAction, at: number, dimensions?: string[]) => {
    const message = {
      action,
      'customer-identifier': ` ${license.customerIdentifier}`,
      'product-code': '8wn5fwbmrh7ezp1f2y0q9ly3k',
      ...(action.startsWith('subscribe')
        ? { 'offer-identifier': 'offer-1', isFreeTrialTermPresent: 'false' }
        : {}),
    };
    const body = JSON.stringify({
      Type: 'Notification',
      MessageId: nextId(),
      Timestamp: minuteTime(at),
      Message: index % 2 === 0 ? JSON.stringify(message) : message,
    });
    const outcome = parseMarketplaceSnsMessage(body);
    if (!outcome.ok) throw new Error(`generated message ignored: ${outcome.ignored}`);
    events.push({ signal: outcome.signal, ...(dimensions ? { dimensions } : {}) });
  };
  const newAgreement = (at: number, agreement: Record<string, unknown>, dimensions: string[]) => {
    current = `agmt-${index}-${++agreements}`;
    agreementEvent('Created', at, { id: current, status: 'ACTIVE', ...agreement });
    licenseEvent('Updated', at, dimensions);
  };

  if (spec.start === 'eventbridge') newAgreement(0, { intent: 'NEW' }, ['basic']);
  else if (spec.start === 'sns') {
    sns('subscribe-success', 0);
    sns('entitlement-updated', 0, ['basic']);
  } else sns('subscribe-fail', 0);

  for (const item of spec.steps) {
    minute += item.gap;
    switch (item.kind) {
      case 'renew': {
        if (!current) {
          newAgreement(minute, { intent: 'NEW' }, item.dims);
          break;
        }
        const previous = current;
        const link = item.how !== 'status';
        newAgreement(
          minute,
          {
            intent: item.how === 'replace' ? 'REPLACE' : 'RENEW',
            ...(link ? { previousAgreementId: previous } : {}),
          },
          item.dims,
        );
        const status = { link: null, status: 'RENEWED', both: 'RENEWED', replace: 'REPLACED' }[item.how];
        agreementEvent('Ended', minute + (item.endLater ? 1 : 0), {
          id: previous,
          ...(status ? { status } : {}),
        });
        break;
      }
      case 'cancel':
        if (!current) {
          sns('unsubscribe-pending', minute);
          break;
        }
        agreementEvent('Ended', minute, { id: current, ...(item.status ? { status: item.status } : {}) });
        if (item.deprovisionAfter !== null) licenseEvent('Deprovisioned', minute + item.deprovisionAfter);
        break;
      case 'new-agreement':
        newAgreement(minute, { intent: 'NEW' }, item.dims);
        break;
      case 'update':
        licenseEvent('Updated', minute, item.dims);
        break;
      case 'amend':
        if (current) agreementEvent('Amended', minute, { id: current, intent: 'AMEND', status: 'ACTIVE' });
        break;
      case 'deprovision':
        licenseEvent('Deprovisioned', minute);
        break;
      case 'sns':
        if (item.action === 'entitlement-updated') sns(item.action, minute, item.dims);
        else {
          sns(item.action, minute);
          // An activation comes with an entitlement read, as it does at AWS.
          if (item.action === 'subscribe-success') sns('entitlement-updated', minute, item.dims);
        }
        break;
      case 'copy':
        if (lastAgreementEvent) {
          // The Manufacturer copy of the last agreement event (CPPO): same content, its own id.
          const copy = {
            ...lastAgreementEvent,
            id: nextId(),
            'detail-type': String(lastAgreementEvent['detail-type']).replace('Proposer', 'Manufacturer'),
          };
          const outcome = parseMarketplaceEvent(copy);
          if (outcome.ok) events.push({ signal: outcome.signal });
        }
        break;
    }
  }
  return events;
};

interface Scenario {
  readonly config: DeploymentConfig;
  readonly licenses: readonly License[];
  readonly events: readonly GeneratedEvent[];
}

const buildScenario = (spec: { config: ConfigSpec; histories: LicenseHistorySpec[] }): Scenario => ({
  config: configFor(spec.config),
  licenses: spec.histories.map((_, index) => licenseNumber(index)),
  events: spec.histories.flatMap((history, index) => buildLicenseEvents(index, history)),
});

// ---------- the simulated handler and outside world ----------

interface World {
  readonly plans: Map<string, string | null>;
  readonly members: Map<string, Set<string>>;
  readonly directory: Map<string, { disabled: boolean; services: number[] }>;
  /** `endingSince` of each flushed episode, per license. */
  readonly flushes: Map<string, string[]>;
}

interface Run {
  readonly records: Map<string, LicenseRecord>;
  readonly world: World;
  readonly activations: Map<string, number>;
  readonly parked: LicenseSignal[];
}

const newRun = (scenario: Scenario): Run => {
  const world: World = { plans: new Map(), members: new Map(), directory: new Map(), flushes: new Map() };
  const { idoperation } = scenario.config;
  const { plans } = onlyProduct(scenario.config);
  // What sign-up gives a directory user before the license is active: the default plan's services.
  const signUpServices = directoryServicesFor(idoperation?.servicesByPlan ?? {}, plans.defaultPlanId);
  for (const license of scenario.licenses) {
    const { tenantId, users } = license.registration;
    // Sign-up created the tenant without a plan, with its users, and registered the directory users.
    world.plans.set(tenantId, null);
    world.members.set(tenantId, new Set(users.map((user) => user.userId)));
    for (const user of users) {
      if (user.directoryUserId) {
        world.directory.set(user.directoryUserId, { disabled: false, services: [...signUpServices] });
      }
    }
    world.flushes.set(license.arn, []);
  }
  return { records: new Map(), world, activations: new Map(), parked: [] };
};

const observe = (world: World, registration: Registration): ObservedState => ({
  planId: world.plans.get(registration.tenantId) ?? null,
  tenantUserIds: [...(world.members.get(registration.tenantId) ?? [])],
  directoryUsers: registration.users.flatMap((user) =>
    user.directoryUserId === undefined
      ? []
      : [
          {
            directoryUserId: user.directoryUserId,
            disabled: world.directory.get(user.directoryUserId)?.disabled ?? false,
            services: [...(world.directory.get(user.directoryUserId)?.services ?? [])],
          },
        ],
  ),
});

const act = (world: World, licenseKey: string, action: ReconcileAction) => {
  switch (action.type) {
    case 'flush-final-usage':
      world.flushes.get(licenseKey)?.push(action.endingSince);
      return;
    case 'set-plan':
      world.plans.set(action.tenantId, action.planId);
      return;
    case 'add-tenant-user':
      world.members.get(action.tenantId)?.add(action.userId);
      return;
    case 'remove-tenant-user':
      world.members.get(action.tenantId)?.delete(action.userId);
      return;
    case 'enable-directory-user':
    case 'disable-directory-user': {
      const user = world.directory.get(action.directoryUserId);
      if (user) user.disabled = action.type === 'disable-directory-user';
      return;
    }
    case 'set-directory-services': {
      const user = world.directory.get(action.directoryUserId);
      if (user) user.services = [...action.services];
      return;
    }
  }
};

/** Finds the license like the handler would: a DynamoDB lookup on the simulated table, then pickLicense. */
const locate = (scenario: Scenario, run: Run, signal: LicenseSignal): License | undefined => {
  const items: LicenseCandidate[] = scenario.licenses.map((license) => ({
    licenseKey: license.arn,
    licenseArn: license.arn,
    customerIdentifier: license.customerIdentifier,
    lifecycle: run.records.get(license.arn) ?? initialRecord(),
  }));
  const lookup = licenseLookupFor(signal.locator, 'license');
  const candidates =
    lookup.kind === 'get'
      ? items.filter((item) => item.licenseKey === lookup.licenseKey)
      : items.filter((item) => {
          const license = scenario.licenses.find((candidate) => candidate.arn === item.licenseKey);
          return lookup.indexName === 'byAccount'
            ? license?.account === lookup.value
            : license?.customerIdentifier === lookup.value;
        });
  const match = pickLicense(signal.locator, candidates);
  return match.found ? scenario.licenses.find((license) => license.arn === match.licenseKey) : undefined;
};

/** Handles one delivery; returns false when the license cannot be found yet (the message is retried). */
const deliver = (scenario: Scenario, run: Run, event: GeneratedEvent): boolean => {
  const { signal } = event;
  const license = locate(scenario, run, signal);
  if (!license) return false;
  const context = { config: effectConfig(scenario.config), registration: license.registration };
  const before = run.records.get(license.arn) ?? initialRecord();
  let after = applySignal(before, signal);
  if (after !== before && signal.kind === 'license-updated' && event.dimensions) {
    after = recordEntitlements(after, { observedAt: signal.time, dimensions: [...event.dimensions].sort() });
  }
  const effects = desiredEffects(after, context);
  for (const domainEvent of domainEventsFor(desiredEffects(before, context), effects)) {
    if (domainEvent.detailType === 'License Activated') {
      run.activations.set(license.arn, (run.activations.get(license.arn) ?? 0) + 1);
    }
  }
  const actions = reconcile(effects, observe(run.world, license.registration));
  // A license that does not grant access never has its directory users' services changed.
  if (effects.access !== 'enabled') {
    expect(actions.filter((action) => action.type === 'set-directory-services')).toEqual([]);
  }
  for (const action of actions) {
    act(run.world, license.arn, action);
    if (action.type === 'flush-final-usage') after = recordFinalFlush(after, action.endingSince);
  }
  run.records.set(license.arn, after);

  // An immediate redelivery of the same event changes nothing and asks for nothing.
  const again = applySignal(after, signal);
  expect(again).toEqual(after);
  const againEffects = desiredEffects(again, context);
  expect(reconcile(againEffects, observe(run.world, license.registration))).toEqual([]);
  expect(domainEventsFor(desiredEffects(after, context), againEffects)).toEqual([]);
  return true;
};

const play = (scenario: Scenario, order: readonly number[]): Run => {
  const run = newRun(scenario);
  let waiting: GeneratedEvent[] = [];
  for (const index of order) {
    const event = scenario.events[index] as GeneratedEvent;
    if (!deliver(scenario, run, event)) waiting.push(event);
  }
  // Retries, as SQS/EventBridge redeliver a message whose license was not found yet.
  while (waiting.length > 0) {
    const still = waiting.filter((event) => !deliver(scenario, run, event));
    if (still.length === waiting.length) break;
    waiting = still;
  }
  run.parked.push(...waiting.map((event) => event.signal));
  return run;
};

const withoutFlushBookkeeping = ({ finalFlushFor: _flush, ...record }: LicenseRecord) => record;

const scenarioWithDeliveries = fc
  .record({ config: configSpec, histories: fc.array(licenseHistory, { minLength: 1, maxLength: 3 }) })
  .map(buildScenario)
  .chain((scenario) => {
    const count = scenario.events.length;
    const indices = Array.from({ length: count }, (_, index) => index);
    return fc
      .array(fc.integer({ min: 0, max: count - 1 }), { maxLength: count })
      .chain((duplicates) => {
        const all = [...indices, ...duplicates];
        return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
      })
      .map((shuffled) => ({ scenario, shuffled }));
  });

describe('license state machine convergence', () => {
  it('reaches the same records, statuses and outside world for shuffled, duplicated delivery as for in-order delivery', () => {
    fc.assert(
      fc.property(scenarioWithDeliveries, ({ scenario, shuffled }) => {
        const inOrder = scenario.events
          .map((event, index) => ({ time: event.signal.time, index }))
          .sort((a, b) => (a.time === b.time ? a.index - b.index : a.time < b.time ? -1 : 1))
          .map(({ index }) => index);
        const reference = play(scenario, inOrder);
        const delivered = play(scenario, shuffled);

        expect(reference.parked).toEqual([]);
        expect(delivered.parked).toEqual([]);
        for (const license of scenario.licenses) {
          const expected = reference.records.get(license.arn) ?? initialRecord();
          const actual = delivered.records.get(license.arn) ?? initialRecord();
          expect(withoutFlushBookkeeping(actual)).toEqual(withoutFlushBookkeeping(expected));
          const status = deriveStatus(actual);
          expect(status).toEqual(deriveStatus(expected));

          // The final-usage obligation is met in both runs: no flush is still due, and when the
          // license is ending or ended, a flush ran during (or after the start of) its final episode.
          const context = { config: effectConfig(scenario.config), registration: license.registration };
          expect(desiredEffects(actual, context).finalFlushDue).toBe(false);
          expect(desiredEffects(expected, context).finalFlushDue).toBe(false);
          const episode = status.endingSince;
          if (episode !== undefined && onlyProduct(scenario.config).pricingModel !== 'contract') {
            for (const run of [reference, delivered]) {
              expect(run.world.flushes.get(license.arn)?.some((flushed) => flushed >= episode)).toBe(true);
            }
          }
          // While the license grants access, its directory users hold its plan's services in both runs.
          const services = desiredEffects(actual, context).directoryServices;
          if (services.kind === 'set') {
            for (const { directoryUserId } of license.registration.users) {
              if (directoryUserId === undefined) continue;
              for (const run of [reference, delivered]) {
                expect(run.world.directory.get(directoryUserId)?.services).toEqual(services.services);
              }
            }
          }
          // Activation is announced at most once per license, whatever the order.
          expect(reference.activations.get(license.arn) ?? 0).toBeLessThanOrEqual(1);
          expect(delivered.activations.get(license.arn) ?? 0).toBeLessThanOrEqual(1);
        }
        expect(delivered.world.plans).toEqual(reference.world.plans);
        expect(delivered.world.members).toEqual(reference.world.members);
        const disabledFlags = (run: Run) =>
          new Map([...run.world.directory].map(([id, user]) => [id, user.disabled]));
        expect(disabledFlags(delivered)).toEqual(disabledFlags(reference));
      }),
      { numRuns: 1000, seed: 20260701 },
    );
  });
});
