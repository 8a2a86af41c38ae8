import { randomBytes } from 'node:crypto';

/** Misuse of the emulator's own helpers (not an emulated AWS exception). */
export class MarketplaceEmulatorError extends Error {
  override readonly name = 'MarketplaceEmulatorError';
}

/** `pending`: bought but not yet started (future-dated); `ended`: deprovisioned. */
export type LicenseStatus = 'pending' | 'active' | 'ended';

export interface EmulatedLicense {
  readonly licenseArn: string;
  readonly customerAwsAccountId: string;
  /** Every emulated buyer has one; the services only show it to legacy-mode listings. */
  readonly customerIdentifier: string;
  readonly productCode: string;
  readonly status: LicenseStatus;
}

export interface EmulatedEntitlement {
  readonly dimension: string;
  /** Whole numbers are sent as IntegerValue, other numbers as DoubleValue. */
  readonly value: number | boolean | string;
  readonly expirationDate?: Date;
}

export interface AddLicenseInput {
  readonly customerAwsAccountId: string;
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  /** Defaults to the emulated listing's product code. */
  readonly productCode?: string;
  /** Defaults to `active`. */
  readonly status?: LicenseStatus;
}

export interface MintTokenInput {
  readonly customerAwsAccountId: string;
  /** The license the token is for; a new active license is added when omitted. */
  readonly licenseArn?: string;
  /** The product the token resolves to; defaults to the license's product. */
  readonly productCode?: string;
}

export type TokenResolution =
  | { readonly kind: 'resolved'; readonly license: EmulatedLicense; readonly productCode: string }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'expired' };

const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The emulated buyers: licenses, registration tokens and entitlements. */
export class BuyerRegistry {
  readonly #licenses = new Map<string, EmulatedLicense>();
  /** CustomerIdentifier → LicenseArn: a lookup per call, not a scan (100,000 licenses in benchmarks). */
  readonly #arnByCustomerIdentifier = new Map<string, string>();
  readonly #tokens = new Map<string, { licenseArn: string; productCode: string; mintedAt: number }>();
  readonly #entitlements = new Map<string, readonly EmulatedEntitlement[]>();

  constructor(
    private readonly listing: {
      readonly productCode: string;
      readonly now: () => Date;
      readonly tokenTtlMs: number;
    },
  ) {}

  addLicense(input: AddLicenseInput): EmulatedLicense {
    if (!/^\d{12}$/.test(input.customerAwsAccountId)) {
      throw new MarketplaceEmulatorError(
        `expected a 12-digit AWS account id, got "${input.customerAwsAccountId}"`,
      );
    }
    const licenseArn =
      input.licenseArn ?? `arn:aws:license-manager::${input.customerAwsAccountId}:license:l-${randomHex(16)}`;
    if (licenseArn.length === 0 || this.#licenses.has(licenseArn)) {
      throw new MarketplaceEmulatorError(`license ${licenseArn} already exists or is empty`);
    }
    const customerIdentifier = input.customerIdentifier ?? randomHex(6).toUpperCase().slice(0, 11);
    if (this.licenseByCustomerIdentifier(customerIdentifier)) {
      throw new MarketplaceEmulatorError(`customer identifier ${customerIdentifier} is already in use`);
    }
    const license: EmulatedLicense = {
      licenseArn,
      customerAwsAccountId: input.customerAwsAccountId,
      customerIdentifier,
      productCode: input.productCode ?? this.listing.productCode,
      status: input.status ?? 'active',
    };
    this.#licenses.set(licenseArn, license);
    this.#arnByCustomerIdentifier.set(customerIdentifier, licenseArn);
    return license;
  }

  license(licenseArn: string): EmulatedLicense | undefined {
    return this.#licenses.get(licenseArn);
  }

  licenseByCustomerIdentifier(customerIdentifier: string): EmulatedLicense | undefined {
    const licenseArn = this.#arnByCustomerIdentifier.get(customerIdentifier);
    return licenseArn === undefined ? undefined : this.#licenses.get(licenseArn);
  }

  licenses(): EmulatedLicense[] {
    return [...this.#licenses.values()];
  }

  setStatus(licenseArn: string, status: LicenseStatus): EmulatedLicense {
    const license = this.#require(licenseArn);
    const updated = { ...license, status };
    this.#licenses.set(licenseArn, updated);
    return updated;
  }

  mintToken(input: MintTokenInput): string {
    const license =
      input.licenseArn === undefined
        ? this.addLicense({ customerAwsAccountId: input.customerAwsAccountId })
        : this.#require(input.licenseArn);
    if (license.customerAwsAccountId !== input.customerAwsAccountId) {
      throw new MarketplaceEmulatorError(
        `license ${license.licenseArn} belongs to account ${license.customerAwsAccountId}, not ${input.customerAwsAccountId}`,
      );
    }
    // Real tokens are base64-like and carry `+`, `/` and `=`; every emulated one does, so a client
    // that mangles them (a form decoded twice, `+` read as a space) fails a test.
    let token = '';
    while (!(token.includes('+') && token.includes('/'))) token = randomBytes(32).toString('base64');
    this.#tokens.set(token, {
      licenseArn: license.licenseArn,
      productCode: input.productCode ?? license.productCode,
      mintedAt: this.listing.now().getTime(),
    });
    return token;
  }

  resolveToken(token: string): TokenResolution {
    const entry = this.#tokens.get(token);
    if (entry === undefined) return { kind: 'unknown' };
    if (this.listing.now().getTime() - entry.mintedAt >= this.listing.tokenTtlMs) return { kind: 'expired' };
    return { kind: 'resolved', license: this.#require(entry.licenseArn), productCode: entry.productCode };
  }

  /** Replaces the entitlements of the license named by its ARN or customer identifier. */
  setEntitlements(
    licenseArnOrCustomerIdentifier: string,
    entitlements: readonly EmulatedEntitlement[],
  ): void {
    const license =
      this.#licenses.get(licenseArnOrCustomerIdentifier) ??
      this.licenseByCustomerIdentifier(licenseArnOrCustomerIdentifier);
    if (license === undefined) {
      throw new MarketplaceEmulatorError(
        `no license or customer identifier ${licenseArnOrCustomerIdentifier}`,
      );
    }
    for (const entitlement of entitlements) {
      const { dimension, value } = entitlement;
      const validValue =
        typeof value === 'boolean' ||
        typeof value === 'string' ||
        (typeof value === 'number' && Number.isFinite(value));
      if (dimension.length === 0 || !validValue) {
        throw new MarketplaceEmulatorError(`invalid entitlement ${JSON.stringify(entitlement)}`);
      }
    }
    this.#entitlements.set(license.licenseArn, [...entitlements]);
  }

  /** Every entitlement with its license, licenses in the order they were added. */
  entitlementRows(): Array<{ readonly license: EmulatedLicense; readonly entitlement: EmulatedEntitlement }> {
    return this.licenses().flatMap((license) =>
      (this.#entitlements.get(license.licenseArn) ?? []).map((entitlement) => ({ license, entitlement })),
    );
  }

  #require(licenseArn: string): EmulatedLicense {
    const license = this.#licenses.get(licenseArn);
    if (license === undefined) throw new MarketplaceEmulatorError(`no license ${licenseArn}`);
    return license;
  }
}
