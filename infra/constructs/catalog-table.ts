// The catalog: one DynamoDB table, single-item conditional writes (src/core/ports/catalog.ts).
// Key names come from src/adapters/aws-resources.ts, which the DynamoDB adapter reads too.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { CATALOG_TABLE } from '../../src/adapters/aws-resources.ts';

export interface CatalogTableProps {
  readonly encryptionKey: kms.IKey;
}

export class CatalogTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: CatalogTableProps) {
    super(scope, id);
    const string = dynamodb.AttributeType.STRING;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: CATALOG_TABLE.partitionKey, type: string },
      sortKey: { name: CATALOG_TABLE.sortKey, type: string },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      timeToLiveAttribute: CATALOG_TABLE.ttlAttribute,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // listBackups() reads whole records from the index: project every attribute.
    this.table.addGlobalSecondaryIndex({
      indexName: CATALOG_TABLE.listIndex,
      partitionKey: { name: CATALOG_TABLE.listIndexPartitionKey, type: string },
      sortKey: { name: CATALOG_TABLE.listIndexSortKey, type: string },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
