import { sleep } from '#shared/retry';
import {
  AwsJsonError,
  type AwsJsonOperations,
  awsJsonHandler,
  type RequestHandler,
  startServer,
} from './http.js';
import {
  type AddLicenseInput,
  BuyerRegistry,
  type EmulatedEntitlement,
  type EmulatedLicense,
  MarketplaceEmulatorError,
  type MintTokenInput,
} from './marketplace/buyers.js';
import { entitlementOperations } from './marketplace/entitlement-service.js';
import { emulatedError, MarketplaceFaults } from './marketplace/faults.js';
import { type BilledRecord, MeteringLedger, meteringOperations } from './marketplace/metering-service.js';

/**
 * A local AWS Marketplace: the Metering Service (ResolveCustomer, BatchMeterUsage) and the
 * Entitlement Service (GetEntitlements) on one port, speaking AWS JSON 1.1 so the real SDK
 * clients talk to it via `endpoint` or the AWS_ENDPOINT_URL_MARKETPLACE_* variables. It follows
 * the documented service rules, keeps a ledger of what it billed and a log of every call, and
 * lets tests inject throttling, faults and empty pages.
 */

export type { AddLicenseInput, BilledRecord, EmulatedEntitlement, EmulatedLicense, MintTokenInput };
export { MarketplaceEmulatorError, MarketplaceFaults };

export interface MarketplaceEmulatorOptions {
  readonly productCode: string;
  /** The seller's other listings: the same endpoint meters their licenses too (one account, one quota). */
  readonly otherProductCodes?: readonly string[];
  /** `license`: buyers are LicenseArn + CustomerAWSAccountId; `legacy`: CustomerIdentifier. */
  readonly identityMode: 'license' | 'legacy';
  /** The emulated clock (the sandbox runs a simulated one); default the real time. */
  readonly now?: () => Date;
  /** How long a registration token resolves (default 4 hours). */
  readonly tokenTtlMs?: number;
  /**
   * BatchMeterUsage's timestamp window. Default: the SDK model's rule (records up to 24 hours old,
   * and the previous month's records only until 06:00 UTC on the 1st). A number of hours selects
   * the older documents' plain rule instead (6 in the API reference and Seller Guide).
   */
  readonly meteringWindowHours?: number;
  /** The listing's dimensions; when set, BatchMeterUsage rejects any other dimension. */
  readonly dimensions?: readonly string[];
  /**
   * Per-operation request quota; excess calls get ThrottlingException (the real BatchMeterUsage
   * quota is 10 per second). `clock` (default the real time, in ms) decides what a second is.
   */
  readonly throttle?: { readonly callsPerSecond: number; readonly clock?: () => number };
  /** Real delay added to every call. */
  readonly latencyMs?: number;
  /** Chance that a GetEntitlements page comes back empty but with a NextToken (default 0). */
  readonly emptyPageProbability?: number;
  readonly random?: () => number;
  readonly port?: number;
}

export type EmulatedService = 'metering' | 'entitlement';

/** One call the emulator received. */
export interface EmulatorCall {
  readonly service: EmulatedService;
  readonly operation: string;
  /** The request body as received. */
  readonly input: Readonly<Record<string, unknown>>;
  /** Emulated time of arrival. */
  readonly at: Date;
  /** Real time of arrival (ms since epoch), for rates and benchmarks. */
  readonly wallClockMs: number;
  /** `Success`, or the exception the call ended with. */
  readonly outcome: string;
}

export interface MarketplaceEmulator {
  readonly url: string;
  readonly port: number;
  readonly productCode: string;
  readonly identityMode: 'license' | 'legacy';
  readonly faults: MarketplaceFaults;
  close(): Promise<void>;
  /** Adds a buyer's license (active unless `status` says otherwise). */
  addLicense(input: AddLicenseInput): EmulatedLicense;
  activateLicense(licenseArn: string): EmulatedLicense;
  /** Deprovisions a license: BatchMeterUsage answers CustomerNotSubscribed for it from now on. */
  endLicense(licenseArn: string): EmulatedLicense;
  license(licenseArn: string): EmulatedLicense | undefined;
  licenses(): EmulatedLicense[];
  /** An opaque, URL-safe registration token bound to the buyer's license. */
  mintToken(input: MintTokenInput): string;
  setEntitlements(licenseArnOrCustomerIdentifier: string, entitlements: readonly EmulatedEntitlement[]): void;
  /** What BatchMeterUsage billed, in order of arrival. */
  billedRecords(): BilledRecord[];
  /** Calls received, optionally of one operation, in order of arrival. */
  calls(operation?: string): EmulatorCall[];
  callCount(operation?: string): number;
  clearCalls(): void;
}

const validateOptions = (options: MarketplaceEmulatorOptions) => {
  const fail = (message: string) => {
    throw new MarketplaceEmulatorError(`Invalid marketplace emulator options: ${message}`);
  };
  if (!/^[a-zA-Z0-9]{1,255}$/.test(options.productCode)) fail('productCode must be letters and digits');
  if (options.identityMode !== 'license' && options.identityMode !== 'legacy') {
    fail('identityMode must be "license" or "legacy"');
  }
  const positive = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0))
      fail(`${name} must be a positive number`);
  };
  positive('tokenTtlMs', options.tokenTtlMs);
  positive('meteringWindowHours', options.meteringWindowHours);
  positive('throttle.callsPerSecond', options.throttle?.callsPerSecond);
  if (options.latencyMs !== undefined && !(options.latencyMs >= 0)) fail('latencyMs must be 0 or more');
  const probability = options.emptyPageProbability ?? 0;
  // Below 1, or pagination would never end.
  if (!(probability >= 0 && probability < 1)) fail('emptyPageProbability must be at least 0 and below 1');
};

/** Starts the emulator on 127.0.0.1 (port 0 = any free port). */
export const startMarketplaceEmulator = async (
  options: MarketplaceEmulatorOptions,
): Promise<MarketplaceEmulator> => {
  validateOptions(options);
  const now = options.now ?? (() => new Date());
  const faults = new MarketplaceFaults();
  const registry = new BuyerRegistry({
    productCode: options.productCode,
    now,
    tokenTtlMs: options.tokenTtlMs ?? 4 * 3_600_000,
  });
  const ledger = new MeteringLedger();
  const callLog: EmulatorCall[] = [];
  const recentCalls = new Map<string, number[]>();
  const throttleClock = options.throttle?.clock ?? Date.now;

  const throttled = (operation: string): boolean => {
    if (options.throttle === undefined) return false;
    const at = throttleClock();
    const recent = (recentCalls.get(operation) ?? []).filter((time) => at - time < 1_000);
    const limited = recent.length >= options.throttle.callsPerSecond;
    if (!limited) recent.push(at);
    recentCalls.set(operation, recent);
    return limited;
  };

  /** Wraps each operation with the call log, throttling, latency and injected faults. */
  const instrument = (service: EmulatedService, operations: AwsJsonOperations): AwsJsonOperations =>
    Object.fromEntries(
      Object.entries(operations).map(([operation, run]) => [
        operation,
        async (input: Record<string, unknown>) => {
          const call = { service, operation, input, at: now(), wallClockMs: Date.now(), outcome: 'Pending' };
          callLog.push(call);
          try {
            if (throttled(operation)) throw emulatedError('ThrottlingException', 'Rate exceeded');
            if (options.latencyMs) await sleep(options.latencyMs);
            const injected = faults.takeFailure(operation);
            if (injected) throw injected;
            const output = await run(input);
            call.outcome = 'Success';
            return output;
          } catch (error) {
            call.outcome = error instanceof AwsJsonError ? error.type : 'InternalServiceErrorException';
            throw error;
          }
        },
      ]),
    );

  const metering = awsJsonHandler(
    'AWSMPMeteringService',
    instrument(
      'metering',
      meteringOperations(
        {
          productCode: options.productCode,
          ...(options.otherProductCodes ? { otherProductCodes: new Set(options.otherProductCodes) } : {}),
          identityMode: options.identityMode,
          now,
          meteringWindow: options.meteringWindowHours ?? 'sdk-model',
          ...(options.dimensions ? { dimensions: new Set(options.dimensions) } : {}),
        },
        registry,
        faults,
        ledger,
      ),
    ),
  );
  const entitlement = awsJsonHandler(
    'AWSMPEntitlementService',
    instrument(
      'entitlement',
      entitlementOperations(
        {
          identityMode: options.identityMode,
          emptyPageProbability: options.emptyPageProbability ?? 0,
          random: options.random ?? Math.random,
        },
        registry,
        faults,
      ),
    ),
  );
  const handler: RequestHandler = (request, body, response) =>
    String(request.headers['x-amz-target'] ?? '').startsWith('AWSMPEntitlementService.')
      ? entitlement(request, body, response)
      : metering(request, body, response);

  const server = await startServer(handler, options.port ?? 0);
  const callsOf = (operation?: string) =>
    callLog
      .filter((call) => operation === undefined || call.operation === operation)
      .map((call) => ({ ...call }));

  return {
    url: server.url,
    port: server.port,
    productCode: options.productCode,
    identityMode: options.identityMode,
    faults,
    close: () => server.close(),
    addLicense: (input) => registry.addLicense(input),
    activateLicense: (licenseArn) => registry.setStatus(licenseArn, 'active'),
    endLicense: (licenseArn) => registry.setStatus(licenseArn, 'ended'),
    license: (licenseArn) => registry.license(licenseArn),
    licenses: () => registry.licenses(),
    mintToken: (input) => registry.mintToken(input),
    setEntitlements: (key, entitlements) => registry.setEntitlements(key, entitlements),
    billedRecords: () => ledger.records(),
    calls: callsOf,
    callCount: (operation) => callsOf(operation).length,
    clearCalls: () => {
      callLog.length = 0;
    },
  };
};
