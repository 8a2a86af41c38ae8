import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MarketplaceBridgeStack } from '#lib/marketplace-bridge-stack';
import { idempotencyTable, licensesTable, meteringLedgerTable } from '#shared/tables';
import { cdkJsonContext, exampleConfig } from '../support/config.js';

const synthesize = () => {
  // cdk.json's context (feature flags) as `cdk synth` sees it; bundling is skipped for speed.
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new MarketplaceBridgeStack(app, 'Test', {
    config: exampleConfig(),
    env: { region: 'us-east-1' },
  });
  return Template.fromStack(stack);
};

describe('state', () => {
  const template = synthesize();

  it('keys the licenses table by license, with account, legacy-customer and tenant indexes', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: licensesTable.partitionKey.name, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'byAccount',
          KeySchema: [
            { AttributeName: 'customerAwsAccountId', KeyType: 'HASH' },
            { AttributeName: 'licenseKey', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'byCustomerIdentifier',
          KeySchema: [{ AttributeName: 'customerIdentifier', KeyType: 'HASH' }],
        }),
        Match.objectLike({
          IndexName: 'byTenant',
          KeySchema: [{ AttributeName: 'tenantId', KeyType: 'HASH' }],
        }),
      ]),
    });
    expect(licensesTable.partitionKey.name).toBe('licenseKey');
  });

  it('keys the ledger by license and usage hour + dimension, with a sparse pending index and TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: meteringLedgerTable.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: meteringLedgerTable.sortKey.name, KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'pending',
          KeySchema: [
            { AttributeName: 'pendingShard', KeyType: 'HASH' },
            { AttributeName: 'usageHour', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
  });

  it('gives the idempotency table the Powertools key and TTL attribute', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: idempotencyTable.partitionKey.name, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
    expect(idempotencyTable.partitionKey.name).toBe('id');
  });

  it('turns on PITR and KMS encryption for every table, on-demand billing', () => {
    const tables = template.findResources('AWS::DynamoDB::GlobalTable');
    expect(Object.keys(tables)).toHaveLength(4);
    for (const table of Object.values(tables)) {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
      for (const replica of table.Properties.Replicas) {
        expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      }
    }
  });

  it('retains the business tables and protects them from deletion', () => {
    const tables = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    const retained = tables.filter((table) => table.DeletionPolicy === 'Retain');
    // Licenses, the metering ledger and the sign-up claims (which license owns which tenant).
    expect(retained).toHaveLength(3);
    for (const table of retained) {
      expect(table.Properties.Replicas[0].DeletionProtectionEnabled).toBe(true);
    }
  });

  it('creates the domain event bus named after the stage', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'marketplace-bridge-dev' });
  });
});
