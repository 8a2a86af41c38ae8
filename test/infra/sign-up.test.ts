import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { Alarms } from '#lib/constructs/alarms';
import { SignUp, type SignUpProps } from '#lib/constructs/sign-up';
import { State } from '#lib/constructs/state';
import { cdkJsonContext, exampleConfig } from '../support/config.js';

/** The SignUp construct alone, in a stack with the shared state, as `cdk synth` would build it. */
const synthesize = (props: Partial<Pick<SignUpProps, 'throttleRate' | 'throttleBurst'>> = {}) => {
  // cdk.json's context (feature flags) as `cdk synth` sees it; bundling is skipped for speed.
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'SignUpTest', { env: { region: 'us-east-1', account: '111122223333' } });
  const config = exampleConfig();
  const state = new State(stack, 'State', { stage: config.stage });
  const alarms = new Alarms(stack, 'Alarms');
  const signUp = new SignUp(stack, 'SignUp', { config, state, alarms, ...props });
  return { template: Template.fromStack(stack), stack, signUp, state, config };
};

type Statement = { Action: string | string[]; Effect: string; Resource: unknown };

/** Every IAM statement attached to the sign-up function's role. */
const functionStatements = (template: Template, stack: Stack, signUp: SignUp): Statement[] => {
  const role = signUp.function.role;
  if (!role) throw new Error('the sign-up function has no role');
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnElement);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as { Ref: string }[]).some((reference) => reference.Ref === roleId),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
};

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

describe('sign-up infrastructure', () => {
  const { template, stack, signUp, state, config } = synthesize();
  const statements = functionStatements(template, stack, signUp);

  it('throttles the HTTP API stage (20 rps, burst 40 by default) and auto-deploys it with access logs', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
    });
  });

  it('takes other throttling limits from its props', () => {
    synthesize({ throttleRate: 5, throttleBurst: 7 }).template.hasResourceProperties(
      'AWS::ApiGatewayV2::Stage',
      {
        DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 7 },
      },
    );
  });

  it('routes every method of / and every path below it to the function', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => route.Properties.RouteKey,
    );
    expect(routes.sort()).toEqual(['ANY /', 'ANY /{proxy+}']);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
  });

  it('gives the function its environment: the config, the tables, the bus and the session secret', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (resource) => resource.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'sign-up',
    );
    const variables = fn?.Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([
        'BRIDGE_CONFIG',
        'LICENSES_TABLE',
        'METERING_LEDGER_TABLE',
        'IDEMPOTENCY_TABLE',
        'DOMAIN_EVENT_BUS',
        'SESSION_SECRET_NAME',
        'SIGN_UP_CLAIMS_TABLE',
      ]),
    );
    expect(JSON.parse(String(variables.BRIDGE_CONFIG))).toEqual(JSON.parse(JSON.stringify(config)));
    expect(fn?.Properties.Timeout).toBe(29);
  });

  it('allows ResolveCustomer and GetEntitlements, and nothing else of AWS Marketplace', () => {
    const marketplaceActions = statements
      .flatMap(actionsOf)
      .filter((action) => action.startsWith('aws-marketplace:'));
    expect(marketplaceActions.sort()).toEqual([
      'aws-marketplace:GetEntitlements',
      'aws-marketplace:ResolveCustomer',
    ]);
    expect(statements.flatMap(actionsOf)).not.toContain('aws-marketplace:BatchMeterUsage');
    expect(
      statements.flatMap(actionsOf).some((action) => action === '*' || action === 'aws-marketplace:*'),
    ).toBe(false);
    const marketplace = statements.find((statement) =>
      actionsOf(statement).includes('aws-marketplace:ResolveCustomer'),
    );
    expect(marketplace).toMatchObject({ Effect: 'Allow', Resource: '*' });
  });

  it('reads the session-key, SaaSus and iDoperation secrets, and only reads them', () => {
    const secretStatements = statements.filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('secretsmanager:')),
    );
    for (const statement of secretStatements) {
      expect(actionsOf(statement).sort()).toEqual([
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ]);
    }
    const resources = JSON.stringify(secretStatements.map((statement) => statement.Resource));
    const sessionKey = Object.keys(template.findResources('AWS::SecretsManager::Secret'));
    expect(sessionKey).toHaveLength(1);
    expect(resources).toContain(`"Ref":"${sessionKey[0]}"`);
    expect(resources).toContain(`secret:${config.saasus.secretName}-??????`);
    expect(resources).toContain(`secret:${config.idoperation?.secretName}-??????`);
    const secretResources = secretStatements.flatMap((statement) =>
      Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource],
    );
    expect(secretResources).toHaveLength(3);
  });

  it('generates the session key as JSON { key } of 64 characters', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: '{}',
        GenerateStringKey: 'key',
        PasswordLength: 64,
        ExcludePunctuation: true,
      },
    });
  });

  it('writes the licenses table and puts events on the domain bus, and touches no other table', () => {
    const dynamoResources = JSON.stringify(
      statements
        .filter((statement) => actionsOf(statement).some((action) => action.startsWith('dynamodb:')))
        .map((statement) => statement.Resource),
    );
    const licensesId = stack.getLogicalId(state.licenses.node.defaultChild as CfnElement);
    expect(dynamoResources).toContain(licensesId);
    for (const other of ['MeteringLedger', 'Idempotency']) expect(dynamoResources).not.toContain(other);
    expect(statements.some((statement) => actionsOf(statement).includes('events:PutEvents'))).toBe(true);
  });

  it('reads, puts and deletes single sign-up claims by key, and nothing else on that table', () => {
    const claimsId = stack.getLogicalId(state.signUpClaims.node.defaultChild as CfnElement);
    const onClaims = statements.filter((statement) => JSON.stringify(statement.Resource).includes(claimsId));
    expect(onClaims.flatMap(actionsOf).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
    ]);
  });

  it('outputs the fulfillment URL of the stage', () => {
    const outputs = template.findOutputs('*', { Description: Match.stringLikeRegexp('fulfillment URL') });
    const [output, ...more] = Object.values(outputs);
    expect(more).toEqual([]);
    expect(Object.keys(outputs)[0]).toMatch(/FulfillmentUrl/);
    expect(JSON.stringify(output?.Value)).toContain('execute-api');
    expect(signUp.fulfillmentUrl).toBeDefined();
  });
});
