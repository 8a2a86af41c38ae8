import { randomUUID } from 'node:crypto';
import { AwsJsonError } from '../http.js';
import type { BuyerRegistry, EmulatedLicense } from './buyers.js';
import type { MarketplaceFaults } from './faults.js';
import {
  isWireObject,
  optionalString,
  requiredEpochSeconds,
  requiredString,
  validationError,
  type WireObject,
} from './wire.js';

/**
 * The Metering Service as a SaaS seller sees it: ResolveCustomer and BatchMeterUsage, following
 * the documented rules (see the Marketplace reference notes, sections a and c).
 */

export interface MeteringServiceSettings {
  readonly productCode: string;
  /** The seller's other license-mode listings, whose licenses this endpoint meters as well. */
  readonly otherProductCodes?: ReadonlySet<string>;
  readonly identityMode: 'license' | 'legacy';
  readonly now: () => Date;
  /** `sdk-model`: 24 h plus the month-end cutoff; a number: that many hours, plainly. */
  readonly meteringWindow: number | 'sdk-model';
  /** The listing's dimensions; when set, any other dimension fails the request. */
  readonly dimensions?: ReadonlySet<string>;
}

/** One usage record AWS accepted and bills. */
export interface BilledRecord {
  readonly licenseArn: string;
  /** Only for legacy-mode listings, which identify buyers by it. */
  readonly customerIdentifier?: string;
  readonly customerAwsAccountId: string;
  readonly dimension: string;
  /** Start of the usage hour the record was deduplicated on. */
  readonly hour: Date;
  /** The record's own timestamp, as sent. */
  readonly timestamp: Date;
  readonly quantity: number;
  readonly meteringRecordId: string;
  /** Emulated time at which the record arrived. */
  readonly receivedAt: Date;
}

const maxRecords = 25;
const maxQuantity = 2_147_483_647;
const hourMs = 3_600_000;
/** The SDK model: the previous month's records are accepted until 06:00 UTC on the 1st. */
const monthEndGraceMs = 6 * hourMs;

interface ParsedRecord {
  readonly raw: WireObject;
  readonly where: string;
  readonly timestamp: Date;
  readonly dimension: string;
  readonly quantity: number;
  readonly licenseArn: string | undefined;
  readonly customerAwsAccountId: string | undefined;
  readonly customerIdentifier: string | undefined;
}

const parseRecord = (value: unknown, index: number): ParsedRecord => {
  const where = `UsageRecords[${index}].`;
  if (!isWireObject(value)) throw validationError(`UsageRecords[${index}] must be an object`);
  const quantity = value.Quantity ?? 0;
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 0 || quantity > maxQuantity) {
    throw validationError(`${where}Quantity must be a whole number from 0 to ${maxQuantity}`);
  }
  const record: ParsedRecord = {
    raw: value,
    where,
    timestamp: requiredEpochSeconds(value, 'Timestamp', where),
    dimension: requiredString(value, 'Dimension', where),
    quantity,
    licenseArn: optionalString(value, 'LicenseArn', where),
    customerAwsAccountId: optionalString(value, 'CustomerAWSAccountId', where),
    customerIdentifier: optionalString(value, 'CustomerIdentifier', where),
  };
  if (record.customerIdentifier !== undefined && record.customerAwsAccountId !== undefined) {
    throw validationError(`${where}CustomerIdentifier and CustomerAWSAccountId are mutually exclusive`);
  }
  return record;
};

export class MeteringLedger {
  readonly #records = new Map<string, BilledRecord>();

  static key(licenseArn: string, dimension: string, hour: Date): string {
    return `${licenseArn}\u0000${dimension}\u0000${hour.toISOString()}`;
  }

  get(key: string): BilledRecord | undefined {
    return this.#records.get(key);
  }

  add(key: string, record: BilledRecord): void {
    this.#records.set(key, record);
  }

  records(): BilledRecord[] {
    return [...this.#records.values()];
  }
}

export const meteringOperations = (
  settings: MeteringServiceSettings,
  registry: BuyerRegistry,
  faults: MarketplaceFaults,
  ledger: MeteringLedger,
) => {
  const legacy = settings.identityMode === 'legacy';

  /** The license a record is for, or the exception that rejects the whole request. */
  const licenseOf = (record: ParsedRecord): EmulatedLicense => {
    const { where } = record;
    if (!legacy) {
      if (record.customerIdentifier !== undefined) {
        throw new AwsJsonError(
          'InvalidCustomerIdentifierException',
          `${where}CustomerIdentifier is not accepted for this product; send LicenseArn and CustomerAWSAccountId`,
        );
      }
      if (record.licenseArn === undefined || record.licenseArn.length === 0) {
        throw new AwsJsonError('InvalidLicenseException', `${where}LicenseArn is required for this product`);
      }
      const license = registry.license(record.licenseArn);
      const sellers =
        license !== undefined &&
        (license.productCode === settings.productCode ||
          settings.otherProductCodes?.has(license.productCode));
      if (license === undefined || !sellers) {
        throw new AwsJsonError(
          'InvalidLicenseException',
          `${where}LicenseArn is not a license of this product`,
        );
      }
      if (record.customerAwsAccountId !== license.customerAwsAccountId) {
        throw new AwsJsonError(
          'InvalidLicenseException',
          `${where}LicenseArn does not match CustomerAWSAccountId`,
        );
      }
      return license;
    }
    if (record.licenseArn !== undefined) {
      throw validationError(`${where}LicenseArn is not used by this product; send CustomerIdentifier`);
    }
    const candidates =
      record.customerIdentifier !== undefined
        ? [registry.licenseByCustomerIdentifier(record.customerIdentifier)]
        : registry
            .licenses()
            .filter((license) => license.customerAwsAccountId === record.customerAwsAccountId);
    const forProduct = candidates.filter((license) => license?.productCode === settings.productCode);
    const [license] = forProduct;
    if (license === undefined || forProduct.length > 1) {
      throw new AwsJsonError(
        'InvalidCustomerIdentifierException',
        `${where}does not identify one customer of this product`,
      );
    }
    return license;
  };

  const checkDimension = (record: ParsedRecord) => {
    const known = settings.dimensions === undefined || settings.dimensions.has(record.dimension);
    if (!known || faults.isRejectedDimension(record.dimension)) {
      throw new AwsJsonError(
        'InvalidUsageDimensionException',
        `${record.where}Dimension "${record.dimension}" is not a dimension of this product`,
      );
    }
  };

  const checkTimestamp = (record: ParsedRecord, now: Date) => {
    const { meteringWindow } = settings;
    const hours = meteringWindow === 'sdk-model' ? 24 : meteringWindow;
    const ageMs = now.getTime() - record.timestamp.getTime();
    const outOfBounds = (rule: string) =>
      new AwsJsonError(
        'TimestampOutOfBoundsException',
        `${record.where}Timestamp ${record.timestamp.toISOString()} is outside the accepted window ` +
          `(${rule}); the whole batch is rejected`,
      );
    if (ageMs < 0 || ageMs >= hours * hourMs) throw outOfBounds(`the last ${hours} hours, not in the future`);
    if (meteringWindow === 'sdk-model') {
      const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
      if (record.timestamp.getTime() < monthStart && now.getTime() >= monthStart + monthEndGraceMs) {
        throw outOfBounds("the previous month's records are accepted until 06:00 UTC on the 1st");
      }
    }
  };

  return {
    ResolveCustomer(input: WireObject) {
      const token = optionalString(input, 'RegistrationToken', '', 'InvalidTokenException');
      if (token === undefined || token.length === 0) {
        throw new AwsJsonError('InvalidTokenException', 'RegistrationToken is required');
      }
      const resolution = registry.resolveToken(token);
      if (resolution.kind === 'unknown')
        throw new AwsJsonError('InvalidTokenException', 'Invalid registration token');
      if (resolution.kind === 'expired') {
        throw new AwsJsonError('ExpiredTokenException', 'The registration token has expired');
      }
      const { license, productCode } = resolution;
      return {
        CustomerAWSAccountId: license.customerAwsAccountId,
        ProductCode: productCode,
        LicenseArn: license.licenseArn,
        ...(legacy ? { CustomerIdentifier: license.customerIdentifier } : {}),
      };
    },

    BatchMeterUsage(input: WireObject) {
      const rawRecords = input.UsageRecords;
      if (!Array.isArray(rawRecords)) throw validationError('UsageRecords is required and must be a list');
      if (rawRecords.length > maxRecords) {
        throw validationError(
          `1 validation error detected: UsageRecords has ${rawRecords.length} members; it must have at most ${maxRecords}`,
        );
      }
      const productCode = optionalString(input, 'ProductCode', '', 'InvalidProductCodeException');
      // AWS accepts a request-level ProductCode beside LicenseArn records and (its migration note
      // warns) bills that customer twice in the hour: once per LicenseArn, once as a customer record
      // of the ProductCode. The emulator does the same, so a ledger-vs-billed check catches it.
      const billedApart = !legacy && productCode !== undefined && productCode.length > 0;
      if (billedApart && productCode !== settings.productCode) {
        throw new AwsJsonError('InvalidProductCodeException', `Unknown product code ${productCode}`);
      }
      if (legacy && productCode !== settings.productCode) {
        throw new AwsJsonError(
          'InvalidProductCodeException',
          productCode ? `Unknown product code ${productCode}` : 'ProductCode is required for this product',
        );
      }
      const now = settings.now();
      const records = rawRecords.map(parseRecord);
      // Any bad record rejects the whole request, as the service does.
      const licenses = records.map(licenseOf);
      for (const record of records) checkDimension(record);
      for (const record of records) checkTimestamp(record, now);

      const results: WireObject[] = [];
      const unprocessed: WireObject[] = [];
      records.forEach((record, index) => {
        const license = licenses[index];
        if (license === undefined) throw new Error('record without license');
        if (faults.takeUnprocessedRecord()) {
          unprocessed.push(record.raw);
          return;
        }
        if (license.status !== 'active') {
          results.push({ UsageRecord: record.raw, Status: 'CustomerNotSubscribed' });
          return;
        }
        const hour = new Date(Math.floor(record.timestamp.getTime() / hourMs) * hourMs);
        const entry = (meteringRecordId: string): BilledRecord => ({
          licenseArn: license.licenseArn,
          ...(legacy ? { customerIdentifier: license.customerIdentifier } : {}),
          customerAwsAccountId: license.customerAwsAccountId,
          dimension: record.dimension,
          hour,
          timestamp: record.timestamp,
          quantity: record.quantity,
          meteringRecordId,
          receivedAt: now,
        });
        if (billedApart) {
          // The second bill: the same usage under the request's ProductCode, as its own customer record.
          const apartKey = MeteringLedger.key(
            `${license.licenseArn}\u0000ProductCode`,
            record.dimension,
            hour,
          );
          if (ledger.get(apartKey) === undefined) ledger.add(apartKey, entry(randomUUID()));
        }
        const key = MeteringLedger.key(license.licenseArn, record.dimension, hour);
        const billed = ledger.get(key);
        if (billed !== undefined) {
          // Same customer, dimension and hour: an identical quantity is an idempotent resend,
          // another quantity a duplicate that leaves the original billed.
          results.push(
            billed.quantity === record.quantity
              ? { UsageRecord: record.raw, Status: 'Success', MeteringRecordId: billed.meteringRecordId }
              : { UsageRecord: record.raw, Status: 'DuplicateRecord' },
          );
          return;
        }
        const meteringRecordId = randomUUID();
        ledger.add(key, entry(meteringRecordId));
        results.push({ UsageRecord: record.raw, Status: 'Success', MeteringRecordId: meteringRecordId });
      });
      return { Results: results, UnprocessedRecords: unprocessed };
    },
  };
};
