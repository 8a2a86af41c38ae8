import { badRequest } from './errors.js';

/**
 * The SaaSus Integration API's EventBridge settings (`/v1/integration/eventbridge/...`, from
 * `integration.yml`): the AWS account and region SaaSus creates its partner event source in, and
 * the "Test EventBridge Connection" event. Saving settings creates the partner event source there
 * (as SaaSus does; it stays Pending until the seller's stack associates a bus with it). Reading
 * settings that were never saved and sending a test event without settings are undocumented; the
 * emulator answers 404 and 400.
 */

/** The regions the spec's `AwsRegion` enum lists. */
const AWS_REGIONS = new Set([
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'af-south-1',
  'ap-east-1',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ca-central-1',
  'eu-central-1',
  'eu-north-1',
  'eu-south-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'me-south-1',
  'sa-east-1',
]);

export interface EventBridgeSettingsRecord {
  readonly aws_account_id: string;
  readonly aws_region: string;
}

export class EventBridgeIntegration {
  #settings: EventBridgeSettingsRecord | undefined;

  get settings(): EventBridgeSettingsRecord | undefined {
    return this.#settings;
  }

  save(body: unknown): void {
    const { aws_account_id: account, aws_region: region } = (body ?? {}) as Record<string, unknown>;
    const accountId = typeof account === 'number' ? String(account) : account;
    if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId)) {
      throw badRequest('aws_account_id: expected a 12-digit AWS account id');
    }
    if (typeof region !== 'string' || !AWS_REGIONS.has(region)) {
      throw badRequest('aws_region: expected one of the AwsRegion values');
    }
    this.#settings = { aws_account_id: accountId, aws_region: region };
  }

  remove(): void {
    this.#settings = undefined;
  }
}
