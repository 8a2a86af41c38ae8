import type { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { type DeploymentConfig, productFor } from './config.js';
import { desiredEffects, effectConfigFor } from './license/effects.js';
import { type EntitlementSnapshot, snapshotFromEntitlements } from './license/entitlements.js';
import { initialRecord, parseLicenseRecord } from './license/record.js';
import { entitlementFilterFor, getAllEntitlements } from './marketplace/entitlements.js';
import { buyerIdentityOf } from './marketplace/resolve-customer.js';
import type { LicenseItem } from './store/licenses.js';

/**
 * The SaaSus plan a license should have right now, decided by the license state machine's
 * desired effects (so sign-up and the event processor always agree). Contracts read their
 * entitlements (all pages); subscriptions use the default plan. Undefined while no paid plan
 * may be applied (the license is not active yet).
 */
export const createPlanResolver =
  ({
    config,
    entitlementClient,
    now = () => new Date(),
  }: {
    config: DeploymentConfig;
    entitlementClient: () => MarketplaceEntitlementServiceClient;
    now?: () => Date;
  }) =>
  async (license: LicenseItem): Promise<string | undefined> => {
    const record = license.lifecycle === undefined ? initialRecord() : parseLicenseRecord(license.lifecycle);
    let entitlements: EntitlementSnapshot | undefined;
    if (productFor(config, license.productCode).pricingModel !== 'subscription') {
      const identity = buyerIdentityOf(
        {
          productCode: license.productCode,
          customerAwsAccountId: license.customerAwsAccountId ?? '',
          ...(license.licenseArn ? { licenseArn: license.licenseArn } : {}),
          ...(license.customerIdentifier ? { customerIdentifier: license.customerIdentifier } : {}),
        },
        license.identityMode,
      );
      const read = await getAllEntitlements(entitlementClient(), {
        productCode: license.productCode,
        filter: entitlementFilterFor(identity),
      });
      entitlements = snapshotFromEntitlements(read, now().toISOString(), now());
    }
    const effects = desiredEffects(record, {
      config: effectConfigFor(config, license.productCode),
      ...(entitlements ? { entitlements } : {}),
    });
    return effects.plan.kind === 'set' && effects.plan.planId ? effects.plan.planId : undefined;
  };
