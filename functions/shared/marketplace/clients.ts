import {
  MarketplaceEntitlementServiceClient,
  type MarketplaceEntitlementServiceClientConfig,
} from '@aws-sdk/client-marketplace-entitlement-service';
import {
  MarketplaceMeteringClient,
  type MarketplaceMeteringClientConfig,
} from '@aws-sdk/client-marketplace-metering';
import { MarketplaceInputError } from './errors.js';

/**
 * Environment variables the SDK itself reads for a custom endpoint (derived from the service
 * ids "Marketplace Metering" and "Marketplace Entitlement Service"; `AWS_ENDPOINT_URL` applies to
 * both). Local runs point them at the emulator; an explicit `endpoint` option wins over them.
 */
export const meteringEndpointEnvVar = 'AWS_ENDPOINT_URL_MARKETPLACE_METERING';
export const entitlementEndpointEnvVar = 'AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE';

export interface MarketplaceClientOptions {
  /** Region of the Marketplace API calls (`marketplace.apiRegion`, normally us-east-1). */
  readonly region: string;
  /** A custom endpoint such as the local emulator's URL. */
  readonly endpoint?: string;
  /** Total attempts per call, including the first (the SDK's retry strategy; default 3). */
  readonly maxAttempts?: number;
  /** `adaptive` adds client-side rate limiting on throttling (default `standard`). */
  readonly retryMode?: 'standard' | 'adaptive';
  readonly credentials?: MarketplaceMeteringClientConfig['credentials'];
}

const sdkConfig = (options: MarketplaceClientOptions) => {
  const fail = (message: string) => new MarketplaceInputError(message, { operation: 'CreateClient' });
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(options.region)) {
    throw fail(`expected an AWS region such as us-east-1, got "${options.region}"`);
  }
  if (options.endpoint !== undefined && !URL.canParse(options.endpoint)) {
    throw fail(`expected the endpoint to be a URL, got "${options.endpoint}"`);
  }
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw fail(`expected maxAttempts to be a whole number of at least 1, got ${maxAttempts}`);
  }
  return {
    region: options.region,
    maxAttempts,
    retryMode: options.retryMode ?? 'standard',
    // Spread only when set, so the SDK still falls back to the endpoint environment variables.
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  };
};

/** The Metering Service client (ResolveCustomer, BatchMeterUsage) with the SDK's own retries. */
export const createMeteringClient = (options: MarketplaceClientOptions): MarketplaceMeteringClient =>
  new MarketplaceMeteringClient(sdkConfig(options));

/** The Entitlement Service client (GetEntitlements) with the SDK's own retries. */
export const createEntitlementClient = (
  options: MarketplaceClientOptions,
): MarketplaceEntitlementServiceClient =>
  new MarketplaceEntitlementServiceClient(
    sdkConfig(options) satisfies MarketplaceEntitlementServiceClientConfig,
  );
