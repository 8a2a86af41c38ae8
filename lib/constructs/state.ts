import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import {
  idempotencyTable,
  type KeyAttribute,
  licensesTable,
  meteringLedgerTable,
  signUpClaimsTable,
  type TableDefinition,
} from '#shared/tables';

export interface StateProps {
  /** Stage name, used in the domain event bus name. */
  readonly stage: string;
}

const attribute = (key: KeyAttribute) => ({
  name: key.name,
  type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER,
});

/**
 * Everything the capabilities share and keep: the license, metering-ledger and idempotency
 * tables (keys from `functions/shared/tables.ts`) and the bus our domain events go to.
 */
export class State extends Construct {
  readonly licenses: TableV2;
  readonly meteringLedger: TableV2;
  readonly idempotency: TableV2;
  readonly signUpClaims: TableV2;
  readonly domainEventBus: EventBus;

  constructor(scope: Construct, id: string, props: StateProps) {
    super(scope, id);
    // Licenses and the ledger are business records (the ledger is what was billed): keep them.
    this.licenses = this.table(licensesTable, RemovalPolicy.RETAIN);
    this.meteringLedger = this.table(meteringLedgerTable, RemovalPolicy.RETAIN);
    this.idempotency = this.table(idempotencyTable, RemovalPolicy.DESTROY);
    // Tenant claims say which license owns which tenant: a business record too.
    this.signUpClaims = this.table(signUpClaimsTable, RemovalPolicy.RETAIN);
    this.domainEventBus = new EventBus(this, 'DomainEvents', {
      eventBusName: `marketplace-bridge-${props.stage}`,
      description: 'Domain events of Marketplace Bridge (License Activated, Tenant Provisioned, ...)',
    });
  }

  private table(definition: TableDefinition, removalPolicy: RemovalPolicy): TableV2 {
    return new TableV2(this, definition.id, {
      partitionKey: attribute(definition.partitionKey),
      ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
      globalSecondaryIndexes: definition.indexes.map((index) => ({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
      })),
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
  }
}
