import { QuantityOutOfRangeError } from './errors.js';

/** The largest `Quantity` a BatchMeterUsage UsageRecord accepts (a signed 32-bit integer). */
export const MAX_QUANTITY = 2_147_483_647;

/** BatchMeterUsage accepts at most this many UsageRecords per call. */
export const MAX_RECORDS_PER_BATCH = 25;

/** Throws unless `value` is an integer a UsageRecord can carry; `what` names it in the message. */
export const assertQuantity = (value: number, what = 'quantity'): number => {
  if (!Number.isInteger(value)) {
    throw new QuantityOutOfRangeError(`${what}: expected a whole number, got ${value}`);
  }
  if (value < 0 || value > MAX_QUANTITY) {
    throw new QuantityOutOfRangeError(`${what}: expected 0..${MAX_QUANTITY}, got ${value}`);
  }
  return value;
};
