import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * One Logger and one Metrics per function module, configured from the Powertools environment
 * (service name and namespace are set by the BridgeFunction construct).
 */
export const logger = new Logger();
export const metrics = new Metrics();
