import {
  InternalServiceErrorException,
  InvalidLicenseException,
  InvalidProductCodeException,
  InvalidTokenException,
  ThrottlingException,
  TimestampOutOfBoundsException,
} from '@aws-sdk/client-marketplace-metering';
import { describe, expect, it } from 'vitest';
import {
  MarketplaceError,
  MarketplaceInputError,
  MarketplaceUnavailableError,
  MeteringRejectedError,
  meteringFailureKind,
  RegistrationTokenError,
  toMarketplaceError,
} from '#shared/marketplace/errors';
import { isRetryable } from '#shared/retry';

const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode, requestId: 'req-1' } });

describe('toMarketplaceError', () => {
  it('maps throttling and server faults to retryable MarketplaceUnavailableErrors', () => {
    const throttled = toMarketplaceError(
      new ThrottlingException({ message: 'Rate exceeded', ...metadata(400) }),
      'GetEntitlements',
    );
    const fault = toMarketplaceError(
      new InternalServiceErrorException({ message: 'oops', ...metadata(500) }),
      'BatchMeterUsage',
    );

    expect(throttled).toBeInstanceOf(MarketplaceUnavailableError);
    expect(throttled).toMatchObject({ code: 'ThrottlingException', retryable: true, requestId: 'req-1' });
    expect(throttled.message).toContain('Rate exceeded');
    expect(fault).toBeInstanceOf(MarketplaceUnavailableError);
    expect(isRetryable(fault)).toBe(true);
  });

  it('maps a network failure to a retryable error', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

    const mapped = toMarketplaceError(refused, 'ResolveCustomer');

    expect(mapped).toBeInstanceOf(MarketplaceUnavailableError);
    expect(mapped.code).toBe('ECONNREFUSED');
  });

  it('maps BatchMeterUsage rejections to MeteringRejectedErrors, poison when a record caused them', () => {
    const timestamp = toMarketplaceError(
      new TimestampOutOfBoundsException({ message: 'too old', ...metadata(400) }),
      'BatchMeterUsage',
    );
    const product = toMarketplaceError(
      new InvalidProductCodeException({ message: 'no such product', ...metadata(400) }),
      'BatchMeterUsage',
    );

    expect(timestamp).toBeInstanceOf(MeteringRejectedError);
    expect(timestamp).toMatchObject({
      poison: true,
      retryable: false,
      code: 'TimestampOutOfBoundsException',
    });
    expect(product).toMatchObject({ poison: false, retryable: false, code: 'InvalidProductCodeException' });
  });

  it('maps other exceptions to plain non-retryable MarketplaceErrors and keeps the cause', () => {
    const original = new InvalidLicenseException({ message: 'bad license', ...metadata(400) });

    const mapped = toMarketplaceError(original, 'GetEntitlements');

    expect(mapped.constructor).toBe(MarketplaceError);
    expect(mapped).toMatchObject({
      retryable: false,
      code: 'InvalidLicenseException',
      operation: 'GetEntitlements',
    });
    expect(mapped.cause).toBe(original);
  });

  it('redacts secrets from the message and drops the cause', () => {
    const token = 'secret-token-value';
    const original = new InvalidTokenException({ message: `token ${token} is bad`, ...metadata(400) });

    const mapped = toMarketplaceError(original, 'ResolveCustomer', { secrets: [token] });

    expect(mapped.message).not.toContain(token);
    expect(mapped.message).toContain('[redacted]');
    expect(mapped.cause).toBeUndefined();
  });

  it('returns a MarketplaceError unchanged', () => {
    const error = new MarketplaceInputError('bad input', { operation: 'BatchMeterUsage' });

    expect(toMarketplaceError(error, 'BatchMeterUsage')).toBe(error);
  });
});

describe('meteringFailureKind', () => {
  it('tells retryable, poison and fatal failures apart', () => {
    expect(meteringFailureKind(new ThrottlingException({ message: 'slow down', ...metadata(400) }))).toBe(
      'retryable',
    );
    expect(meteringFailureKind(new InvalidLicenseException({ message: 'x', ...metadata(400) }))).toBe(
      'poison',
    );
    expect(meteringFailureKind(new InvalidProductCodeException({ message: 'x', ...metadata(400) }))).toBe(
      'fatal',
    );
    expect(meteringFailureKind(new MarketplaceInputError('bad', { operation: 'BatchMeterUsage' }))).toBe(
      'fatal',
    );
    expect(meteringFailureKind(new TypeError('bug'))).toBe('fatal');
  });
});

describe('RegistrationTokenError', () => {
  it('tells the buyer to start again from AWS Marketplace', () => {
    const expired = new RegistrationTokenError('expired', {});
    const invalid = new RegistrationTokenError('invalid', {});

    expect(expired.message).toMatch(/has expired\. Return to AWS Marketplace.*"Set up your account" again/);
    expect(invalid.message).toMatch(/is not valid\./);
    expect(invalid).toMatchObject({ kind: 'invalid', operation: 'ResolveCustomer', retryable: false });
    expect(invalid).toBeInstanceOf(MarketplaceError);
  });
});
