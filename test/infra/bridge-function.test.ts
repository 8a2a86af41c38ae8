import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BridgeFunction } from '#lib/constructs/bridge-function';
import { cdkJsonContext } from '../support/config.js';

describe('BridgeFunction', () => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'FunctionTest', { env: { region: 'us-east-1' } });
  new BridgeFunction(stack, 'Subject', {
    entry: 'test/fixtures/noop-handler.ts',
    description: 'test subject',
    serviceName: 'test-service',
    environment: { EXTRA: 'value' },
  });
  const template = Template.fromStack(stack);

  it('runs Node.js 24 on ARM64 with JSON logs and no X-Ray', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      TracingConfig: Match.absent(),
    });
  });

  it('sets the Powertools environment, keeping extra variables, and no source-map loading at cold start', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          POWERTOOLS_SERVICE_NAME: 'test-service',
          POWERTOOLS_METRICS_NAMESPACE: 'MarketplaceBridge',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          EXTRA: 'value',
        },
      },
    });
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(fn?.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
  });

  it('records its source entry in the template metadata for the sandbox', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(fn?.Metadata?.['MarketplaceBridge:Entry']).toBe('test/fixtures/noop-handler.ts');
  });

  it('may write its own log group and nothing else: no AWSLambdaBasicExecutionRole (logs on every log group)', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    const roleId = fn?.Properties.Role['Fn::GetAtt'][0];
    const role = template.findResources('AWS::IAM::Role')[roleId];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role?.Properties.Policies).toBeUndefined();
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [fn?.Properties.LoggingConfig.LogGroup.Ref, 'Arn'] },
      },
    ]);
  });

  it('owns a log group with a retention period', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(fn?.Properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.stringMatching(/^SubjectLogs/) });
  });
});
