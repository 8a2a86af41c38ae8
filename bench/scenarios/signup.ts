import {
  csrfFrom,
  formBody,
  type HttpRequest,
  httpEvent,
  sessionCookieFrom,
  validRegistration,
} from '../../test/support/signup-harness.js';
import { type Host, startHost } from '../lib/host.js';
import { round, type Summary, summarize } from '../lib/stats.js';
import { functionByEntry, type Synthesis } from '../lib/synth.js';
import { startWorld } from '../lib/world.js';

/**
 * Sign-up overhead through the real (bundled) handler in its own process: the fulfillment POST
 * (ResolveCustomer, license upsert, sealed session), the registration page, and the registration
 * submit (the provisioning saga: SaaSus user, tenant, tenant user, roles, plan, iDoperation user,
 * license steps, domain events). Emulators answer instantly, or with 50 ms added to every SaaSus,
 * Marketplace and iDoperation call (their `latencyMs`; EventBridge, Secrets Manager and dynalite
 * have no latency option). Each buyer's three requests run in order; `concurrency` buyers at once.
 * Latency is measured by the driver (round trip to the handler process) and inside the handler.
 */

export interface SignUpLevel {
  readonly latencyMs: number;
  readonly concurrency: number;
  readonly signUps: number;
  readonly failures: number;
  readonly failureExamples: string[];
  readonly seconds: number;
  /** HTTP requests (3 per sign-up) per second. */
  readonly requestsPerSecond: number;
  readonly signUpsPerSecond: number;
  readonly fulfillmentMs: Summary;
  readonly registrationPageMs: Summary;
  readonly submitMs: Summary;
  /** Submit time inside the handler process (without IPC). */
  readonly submitHandlerMs: Summary;
  readonly fulfillmentHandlerMs: Summary;
  /** CPU busy during the level (1 = one core): dynalite, the handler process, emulators + driver. */
  readonly cpu: {
    readonly dynalite: number | undefined;
    readonly handler: number | undefined;
    readonly harness: number;
  };
}

export interface SignUpResult {
  readonly levels: SignUpLevel[];
  /** Calls each submit made, from the emulators' logs (per sign-up, median). */
  readonly callsPerSignUp: {
    readonly saasus: number;
    readonly idoperation: number;
    readonly marketplace: number;
  };
  readonly tenantsCreated: number;
}

export interface SignUpPlan {
  readonly latencyMs: number;
  readonly levels: readonly { readonly concurrency: number; readonly signUps: number }[];
}

const OK_SUBMIT = 200;

export const runSignUp = async (
  synthesis: Synthesis,
  plans: readonly SignUpPlan[],
  log: (line: string) => void,
): Promise<SignUpResult> => {
  const fn = functionByEntry(synthesis, 'functions/sign-up/handler.ts');
  const levels: SignUpLevel[] = [];
  let callsPerSignUp = { saasus: 0, idoperation: 0, marketplace: 0 };
  let tenantsCreated = 0;
  for (const plan of plans) {
    const world = await startWorld({
      saasusLatencyMs: plan.latencyMs,
      marketplaceLatencyMs: plan.latencyMs,
      idoperationLatencyMs: plan.latencyMs,
    });
    let host: Host | undefined;
    try {
      host = await startHost({ bundlePath: fn.bundlePath, env: world.environmentFor(synthesis, fn) });
      const handler = host;
      let account = 500_000_000_000;
      const send = async (request: HttpRequest) => {
        const started = performance.now();
        const result = await handler.invoke<{
          statusCode?: number;
          body?: string;
          cookies?: string[];
          headers?: Record<string, string>;
        }>(httpEvent(request));
        if (!result.ok) throw new Error(result.error);
        const value = result.value ?? {};
        return {
          status: value.statusCode ?? 200,
          body: value.body ?? '',
          cookies: value.cookies ?? [],
          roundTripMs: performance.now() - started,
          handlerMs: result.ms,
        };
      };
      const signUpOnce = async () => {
        const customerAwsAccountId = String(account++);
        const license = world.marketplace.addLicense({ customerAwsAccountId });
        const token = world.marketplace.mintToken({ customerAwsAccountId, licenseArn: license.licenseArn });
        const form = { 'content-type': 'application/x-www-form-urlencoded' };
        const fulfillment = await send({
          method: 'POST',
          path: '/',
          headers: form,
          body: formBody({ 'x-amzn-marketplace-token': token }),
        });
        const cookie = sessionCookieFrom({
          statusCode: fulfillment.status,
          headers: {},
          body: fulfillment.body,
          cookies: fulfillment.cookies,
        });
        if (fulfillment.status !== 303 || !cookie)
          throw new Error(`fulfillment answered ${fulfillment.status}`);
        const page = await send({ method: 'GET', path: '/register', cookies: [cookie] });
        if (page.status !== 200) throw new Error(`registration page answered ${page.status}`);
        const submit = await send({
          method: 'POST',
          path: '/register',
          headers: form,
          cookies: [cookie],
          body: formBody({ csrf: csrfFrom(page.body), ...validRegistration() }),
        });
        if (submit.status !== OK_SUBMIT) throw new Error(`submit answered ${submit.status}`);
        return { fulfillment, page, submit };
      };
      // Warm the environment (secrets, clients, connections) before measuring.
      for (let warm = 0; warm < 3; warm++) await signUpOnce();
      const saasusBefore = world.saasus.state.requests().length;
      const idoperationBefore = world.idoperation.calls().length;
      const marketplaceBefore = world.marketplace.calls().length;
      let measuredSignUps = 0;
      for (const level of plan.levels) {
        const samples = {
          fulfillment: [] as number[],
          page: [] as number[],
          submit: [] as number[],
          submitHandler: [] as number[],
          fulfillmentHandler: [] as number[],
        };
        const failures: string[] = [];
        let next = 0;
        const cpuBefore = { world: world.cpu(), handler: handler.cpuSeconds() };
        const started = performance.now();
        await Promise.all(
          Array.from({ length: level.concurrency }, async () => {
            while (next < level.signUps) {
              next++;
              try {
                const { fulfillment, page, submit } = await signUpOnce();
                samples.fulfillment.push(fulfillment.roundTripMs);
                samples.fulfillmentHandler.push(fulfillment.handlerMs);
                samples.page.push(page.roundTripMs);
                samples.submit.push(submit.roundTripMs);
                samples.submitHandler.push(submit.handlerMs);
              } catch (error) {
                failures.push(error instanceof Error ? error.message : String(error));
              }
            }
          }),
        );
        const seconds = (performance.now() - started) / 1000;
        const cpuAfter = { world: world.cpu(), handler: handler.cpuSeconds() };
        const busy = (before: number | undefined, after: number | undefined) =>
          before === undefined || after === undefined ? undefined : round((after - before) / seconds, 2);
        const completed = samples.submit.length;
        measuredSignUps += completed;
        levels.push({
          latencyMs: plan.latencyMs,
          concurrency: level.concurrency,
          signUps: completed,
          failures: failures.length,
          failureExamples: [...new Set(failures)].slice(0, 3),
          seconds: round(seconds, 2),
          requestsPerSecond: round((completed * 3) / seconds, 1),
          signUpsPerSecond: round(completed / seconds, 2),
          fulfillmentMs: summarize(samples.fulfillment),
          registrationPageMs: summarize(samples.page),
          submitMs: summarize(samples.submit),
          submitHandlerMs: summarize(samples.submitHandler),
          fulfillmentHandlerMs: summarize(samples.fulfillmentHandler),
          cpu: {
            dynalite: busy(cpuBefore.world.dynalite, cpuAfter.world.dynalite),
            handler: busy(cpuBefore.handler, cpuAfter.handler),
            harness: busy(cpuBefore.world.harness, cpuAfter.world.harness) ?? 0,
          },
        });
        log(
          `sign-up ${plan.latencyMs} ms, concurrency ${level.concurrency}: ${completed} sign-ups in ${seconds.toFixed(1)} s`,
        );
      }
      if (plan.latencyMs === 0 && measuredSignUps > 0) {
        callsPerSignUp = {
          saasus: round((world.saasus.state.requests().length - saasusBefore) / measuredSignUps, 2),
          idoperation: round((world.idoperation.calls().length - idoperationBefore) / measuredSignUps, 2),
          marketplace: round((world.marketplace.calls().length - marketplaceBefore) / measuredSignUps, 2),
        };
        tenantsCreated = world.saasus.state.tenants().length;
      }
    } finally {
      await host?.close();
      await world.close();
    }
  }
  return { levels, callsPerSignUp, tenantsCreated };
};
