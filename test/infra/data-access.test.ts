import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ENTRY_METADATA_KEY } from '#lib/constructs/bridge-function';
import { dataAccessByEntry } from '#lib/constructs/data-access';
import { MarketplaceBridgeStack } from '#lib/marketplace-bridge-stack';
import { parseDeploymentConfig } from '#shared/config';
import { cdkJsonContext, exampleConfigInput } from '../support/config.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are untyped JSON, read path by path
type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, unknown> };

/** IAM actions each DynamoDB SDK command needs (a transaction needs those of its parts). */
const actionsOfCommand: Record<string, readonly string[]> = {
  // @aws-sdk/lib-dynamodb (DocumentClient)
  GetCommand: ['GetItem'],
  PutCommand: ['PutItem'],
  UpdateCommand: ['UpdateItem'],
  DeleteCommand: ['DeleteItem'],
  QueryCommand: ['Query'],
  ScanCommand: ['Scan'],
  BatchGetCommand: ['BatchGetItem'],
  BatchWriteCommand: ['BatchWriteItem'],
  TransactGetCommand: ['GetItem'],
  TransactWriteCommand: ['PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
  // @aws-sdk/client-dynamodb
  GetItemCommand: ['GetItem'],
  PutItemCommand: ['PutItem'],
  UpdateItemCommand: ['UpdateItem'],
  DeleteItemCommand: ['DeleteItem'],
  BatchGetItemCommand: ['BatchGetItem'],
  BatchWriteItemCommand: ['BatchWriteItem'],
  TransactGetItemsCommand: ['GetItem'],
  TransactWriteItemsCommand: ['PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'],
  DescribeTableCommand: ['DescribeTable'],
  // paginators send the command they are named after
  paginateQuery: ['Query'],
  paginateScan: ['Scan'],
};

const DYNAMODB_PACKAGES = /^@aws-sdk\/(client|lib)-dynamodb$/;

/**
 * The DynamoDB actions the code bundled for `entry` can perform: the SDK commands it constructs,
 * found in the tree-shaken bundle (built as BridgeFunction builds it, unminified). The SDK is
 * external, so every command is an import from @aws-sdk/client-dynamodb or lib-dynamodb.
 */
const actionsInBundle = async (entry: string): Promise<{ actions: string[]; unknown: string[] }> => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    mainFields: ['module', 'main'],
    external: ['@aws-sdk/*'],
    minify: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles.map((file) => file.text).join('\n');
  const used = new Set<string>();
  for (const match of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*["']([^"']+)["']/g)) {
    if (!DYNAMODB_PACKAGES.test(match[2] as string)) continue;
    for (const specifier of (match[1] as string).split(',')) {
      const [imported, local = imported] = specifier.trim().split(/\s+as\s+/);
      if (!imported || !local) continue;
      const escaped = local.replace(/\$/g, '\\$');
      if (new RegExp(`(new\\s+${escaped}\\s*\\(|\\b${escaped}\\s*\\()`).test(code)) used.add(imported);
    }
  }
  for (const match of code.matchAll(/import\s*\*\s*as\s*(\w+)\s*from\s*["']([^"']+)["']/g)) {
    if (!DYNAMODB_PACKAGES.test(match[2] as string)) continue;
    for (const member of code.matchAll(new RegExp(`\\b${match[1]}\\.(\\w+)\\s*\\(`, 'g')))
      used.add(member[1] as string);
  }
  const commands = [...used].filter((name) => name.endsWith('Command') || name.startsWith('paginate'));
  // The aggregated DynamoDBDocument client sends commands through methods this scan cannot see.
  const unknown = [
    ...commands.filter((name) => !(name in actionsOfCommand)),
    ...[...used].filter((name) => name === 'DynamoDBDocument'),
  ];
  const actions = new Set(commands.flatMap((name) => actionsOfCommand[name] ?? []));
  return { actions: [...actions].sort(), unknown };
};

const synthesize = () => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const input = exampleConfigInput();
  input.legacySns = {
    subscriptionTopicArn: 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-abc',
  };
  const config = parseDeploymentConfig(input);
  const stack = new MarketplaceBridgeStack(app, 'Test', { config, env: { region: config.region } });
  return Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
};

const resources = synthesize();
const logicalIdOf = (value: unknown): string | undefined => {
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })?.['Fn::GetAtt'];
  return getAtt?.[0] ?? (value as { Ref?: string })?.Ref;
};

/** `licenses`, `licenses/index/*`, `meteringLedger/index/pending`: a table or index by its State name. */
const tableName = (logicalId: string): string => {
  // A table of the State construct: `State<Id><hash>`, named `state.<id>` (camel case) in code.
  const match = /^State([A-Z]\w*?)[0-9A-F]{8}$/.exec(logicalId);
  if (resources[logicalId]?.Type !== 'AWS::DynamoDB::GlobalTable' || !match) {
    throw new Error(`not a State table: ${logicalId}`);
  }
  const name = match[1] as string;
  return name[0]?.toLowerCase() + name.slice(1);
};
const resourceName = (resource: unknown): string => {
  const table = logicalIdOf(resource);
  if (table) return tableName(table);
  const parts = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join']?.[1] ?? [];
  const [arn, suffix] = parts;
  const id = logicalIdOf(arn);
  if (!id || typeof suffix !== 'string')
    throw new Error(`unexpected DynamoDB resource ${JSON.stringify(resource)}`);
  return `${tableName(id)}${suffix}`;
};

/** "action on resource" for every DynamoDB permission of the function's role. */
const grantedTo = (functionId: string): string[] => {
  const role = logicalIdOf((resources[functionId] as Resource).Properties.Role);
  const grants = Object.values(resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' &&
        (resource.Properties.Roles as unknown[]).some((ref) => logicalIdOf(ref) === role),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[])
    .flatMap((statement) =>
      [statement.Action]
        .flat()
        .filter((action): action is string => typeof action === 'string' && action.startsWith('dynamodb:'))
        .flatMap((action) =>
          [statement.Resource]
            .flat()
            .map((resource) => `${action.slice('dynamodb:'.length)} on ${resourceName(resource)}`),
        ),
    );
  // Nothing may come from an inline role policy either (managed policies: bridge-function.test.ts).
  expect(JSON.stringify((resources[role as string] as Resource).Properties)).not.toMatch(/dynamodb/);
  return grants.sort();
};

/** The same strings for what `dataAccessByEntry` declares. */
const declaredFor = (entry: string): string[] =>
  Object.entries(dataAccessByEntry[entry] ?? {})
    .flatMap(([table, access]) => [
      ...(access.table ?? []).map((action) => `${action} on ${table}`),
      ...(access.queriedIndexes === undefined
        ? []
        : (access.queriedIndexes === '*' ? ['*'] : access.queriedIndexes).map(
            (index) => `Query on ${table}/index/${index}`,
          )),
    ])
    .sort();

const functions = Object.entries(resources)
  .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
  .map(([id, resource]) => ({ id, entry: resource.Metadata?.[ENTRY_METADATA_KEY] as string }));

describe('least privilege on DynamoDB', () => {
  it('covers every function of the stack and nothing else', () => {
    expect(functions.map((fn) => fn.entry).sort()).toEqual(Object.keys(dataAccessByEntry).sort());
  });

  it.each(functions)('grants $entry exactly the DynamoDB access declared for it', ({ id, entry }) => {
    expect(grantedTo(id)).toEqual(declaredFor(entry));
  });

  it.each(functions)(
    'grants $entry no DynamoDB action its bundled code never sends',
    async ({ id, entry }) => {
      const code = await actionsInBundle(entry);
      expect(code.unknown).toEqual([]);
      const granted = new Set(grantedTo(id).map((grant) => grant.split(' ')[0]));
      expect([...granted].filter((action) => !code.actions.includes(action as string))).toEqual([]);
      // The scan is sound: every function of the stack touches DynamoDB, and the scan sees it.
      expect(code.actions.length).toBeGreaterThan(0);
    },
    30_000,
  );

  it('never grants Scan, DeleteItem or batch writes on licenses to the internet-facing sign-up function', () => {
    const signUp = functions.find((fn) => fn.entry === 'functions/sign-up/handler.ts');
    const granted = grantedTo(signUp?.id as string).join('\n');
    expect(granted).not.toMatch(/^(Scan|DeleteItem|BatchWriteItem|PutItem) on licenses/m);
  });
});
