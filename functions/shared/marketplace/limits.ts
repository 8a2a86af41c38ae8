/** BatchMeterUsage's own limits (the Metering Service API reference). */

/** The largest `Quantity` a UsageRecord accepts (a signed 32-bit integer). */
export const MAX_QUANTITY = 2_147_483_647;

/** BatchMeterUsage accepts at most this many UsageRecords per call. */
export const MAX_RECORDS_PER_BATCH = 25;
