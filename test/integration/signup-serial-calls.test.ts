import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '#shared/env';
import { createPlanResolver } from '#shared/plans';
import { logger } from '#shared/powertools';
import { sleep } from '#shared/retry';
import { createRuntime, runtimeEnvSchema } from '#shared/runtime';
import { createProvisioning } from '#shared/signup/provisioning';
import { createSignUpClaims } from '#shared/store/sign-up-claims';
import {
  browserFlow,
  type SignUpHarness,
  startSignUpHarness,
  validRegistration,
} from '../support/signup-harness.js';

/**
 * A registration submit waits for the remote APIs (SaaSus, Marketplace GetEntitlements,
 * iDoperation) one round trip per call in series, so independent calls must run side by side.
 * Every call is timed (with a delay added, so calls that run together overlap); the longest chain
 * of calls each starting after the previous one ended is what a buyer waits for.
 * DynamoDB and EventBridge, in the same region as the function, are not counted.
 */

const ADDED_LATENCY_MS = 25;

interface Call {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** Wraps every method of `target` so each call is delayed and recorded in `calls`. */
const timed = <T extends object>(target: T, service: string, calls: Call[]): T =>
  new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const start = performance.now();
        await sleep(ADDED_LATENCY_MS);
        try {
          return await value.apply(object, args);
        } finally {
          calls.push({ name: `${service}.${String(property)}`, start, end: performance.now() });
        }
      };
    },
  });

/** The longest chain of calls in which each starts after the one before it ended. */
const callsInSeries = (calls: readonly Call[]): Call[] => {
  const byStart = [...calls].sort((a, b) => a.start - b.start);
  const chains: Call[][] = [];
  for (const call of byStart) {
    let longest: Call[] = [];
    byStart.forEach((earlier, index) => {
      const chain = chains[index];
      if (chain && earlier.end <= call.start && chain.length > longest.length) longest = chain;
    });
    chains.push([...longest, call]);
  }
  return chains.reduce<Call[]>((best, chain) => (chain.length > best.length ? chain : best), []);
};

let h: SignUpHarness;
beforeAll(async () => {
  h = await startSignUpHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('remote calls a registration submit waits for', () => {
  it.each([['the first sign-up of the SaaS (tenant attributes created)'], ['a later sign-up']])(
    'a new buyer on an active contract license, %s: at most 6 in series',
    async () => {
      const runtime = createRuntime(parseEnv(runtimeEnvSchema));
      const calls: Call[] = [];
      const saasus = timed(runtime.saasus(), 'saasus', calls);
      const idoperation = runtime.idoperation();
      const resolvePlan = createPlanResolver({
        config: runtime.config,
        entitlementClient: runtime.entitlementClient,
      });
      const provisioning = createProvisioning({
        config: runtime.config,
        store: runtime.licenses(),
        claims: createSignUpClaims({
          client: new DynamoDBClient({}),
          tableName: h.env.SIGN_UP_CLAIMS_TABLE ?? '',
        }),
        saasus,
        idoperation: idoperation ? timed(idoperation, 'idoperation', calls) : undefined,
        publish: (events) => runtime.publisher().publish(events),
        planFor: timed({ getEntitlements: resolvePlan }, 'marketplace', calls).getEntitlements,
        logger,
      });
      const buyer = h.newBuyer();
      await browserFlow(h.invoke).begin(buyer.token);
      await h.activate(buyer.licenseKey);

      const outcome = await provisioning.provision(buyer.licenseKey, validRegistration());

      expect(outcome.status).toBe('ready');
      expect(calls.map((call) => call.name)).toEqual(
        expect.arrayContaining([
          'marketplace.getEntitlements',
          'idoperation.registerUser',
          'saasus.createTenant',
        ]),
      );
      const series = callsInSeries(calls).map((call) => call.name);
      expect(series.length, series.join(' → ')).toBeLessThanOrEqual(6);
    },
  );
});
