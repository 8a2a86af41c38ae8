import type { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { type DeploymentConfig, productFor } from './config.js';
import { desiredEffects, effectConfigFor, tenantEffects } from './license/effects.js';
import { type EntitlementSnapshot, snapshotFromEntitlements } from './license/entitlements.js';
import { initialRecord, parseLicenseRecord } from './license/record.js';
import { entitlementFilterFor, getAllEntitlements } from './marketplace/entitlements.js';
import { buyerIdentityOf } from './marketplace/resolve-customer.js';
import type { LicenseItem, LicenseStore } from './store/licenses.js';

/**
 * The SaaSus plan a license should have right now, decided by the license state machine's
 * desired effects (so sign-up and the event processor always agree). Contracts read their
 * entitlements (all pages); subscriptions use the default plan. Undefined while no paid plan
 * may be applied (the license is not active yet). Given the tenant (and a `store`), the tenant's
 * licenses of other products take part with the same precedence the event processor applies.
 */
export const createPlanResolver =
  ({
    config,
    entitlementClient,
    store,
    now = () => new Date(),
  }: {
    config: DeploymentConfig;
    entitlementClient: () => MarketplaceEntitlementServiceClient;
    store?: Pick<LicenseStore, 'findByTenant'>;
    now?: () => Date;
  }) =>
  async (license: LicenseItem, tenantId?: string): Promise<string | undefined> => {
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
    const own = desiredEffects(record, {
      config: effectConfigFor(config, license.productCode),
      ...(entitlements ? { entitlements } : {}),
    });
    const planOf = (effects: typeof own) =>
      effects.plan.kind === 'set' && effects.plan.planId ? effects.plan.planId : undefined;
    // A license that may have no paid plan yet applies none, whatever the tenant's other products give.
    if (planOf(own) === undefined) return undefined;
    const others =
      tenantId !== undefined && store && config.products.length > 1
        ? (await store.findByTenant(tenantId)).filter(
            (other) => other.licenseKey !== license.licenseKey && other.productCode !== license.productCode,
          )
        : [];
    const effects = tenantEffects(
      { productCode: license.productCode, effects: own },
      others.map((other) => ({
        productCode: other.productCode,
        effects: desiredEffects(parseLicenseRecord(other.lifecycle), {
          config: effectConfigFor(config, other.productCode),
        }),
      })),
      config.products.map((product) => product.productCode),
    );
    return planOf(effects);
  };
