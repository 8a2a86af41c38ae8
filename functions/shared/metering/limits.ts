import { MAX_QUANTITY } from '../marketplace/limits.js';
import { QuantityOutOfRangeError } from './errors.js';

/** BatchMeterUsage's limits, which the metering steps plan around. */
export { MAX_QUANTITY, MAX_RECORDS_PER_BATCH } from '../marketplace/limits.js';

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
