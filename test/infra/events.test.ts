import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addBridge } from '#lib/app';
import { ASYNC_RETRY_ATTEMPTS, marketplaceDetailTypes } from '#lib/constructs/events';
import { MarketplaceBridgeStack } from '#lib/marketplace-bridge-stack';
import { matchesEventPattern } from '#sandbox/event-pattern';
import { ConfigError, parseDeploymentConfig } from '#shared/config';
import { cdkJsonContext, exampleConfigInput, onlyProduct } from '../support/config.js';
import type { ConfigInput } from '../support/events-harness.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are untyped JSON, read path by path
type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, unknown> };
type Ref = { Ref: string } | { 'Fn::GetAtt': [string, string] };

const FOURTEEN_DAYS = 14 * 24 * 60 * 60;
const legacyTopic =
  'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-8wn5fwbmrh7ezp1f2y0q9ly3k';
const entitlementTopic =
  'arn:aws:sns:us-east-1:287250355862:aws-mp-entitlement-notification-8wn5fwbmrh7ezp1f2y0q9ly3k';

const configInput = (configure?: (input: ConfigInput) => void) => {
  const input = exampleConfigInput() as ConfigInput;
  configure?.(input);
  return input;
};

const synthesize = (configure?: (input: ConfigInput) => void) => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const config = parseDeploymentConfig(configInput(configure));
  const stack = new MarketplaceBridgeStack(app, 'Test', { config, env: { region: config.region } });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return { template, resources, config };
};

const withEverySource = (input: ConfigInput) => {
  input.legacySns = { subscriptionTopicArn: legacyTopic, entitlementTopicArn: entitlementTopic };
};

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

const refId = (ref: Ref): string => ('Ref' in ref ? ref.Ref : ref['Fn::GetAtt'][0]);

/** The logical id of the function built from `entry` (BridgeFunction records it in metadata). */
const functionId = (resources: Record<string, Resource>, entry: string): string | undefined =>
  ofType(resources, 'AWS::Lambda::Function').find(
    ([, fn]) => fn.Metadata?.['MarketplaceBridge:Entry'] === entry,
  )?.[0];

/** Every action the function's role may use, with the resources of each statement. */
const permissions = (resources: Record<string, Resource>, fnId: string) => {
  const roleId = refId(resources[fnId]?.Properties.Role as Ref);
  return ofType(resources, 'AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as Ref[]).some((role) => refId(role) === roleId))
    .flatMap(
      ([, policy]) =>
        policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    )
    .flatMap((statement) =>
      [statement.Action].flat().map((action) => ({ action, resource: statement.Resource })),
    );
};

/** The alarm on a queue's visible messages, if any. */
const alarmOn = (resources: Record<string, Resource>, queueId: string) =>
  ofType(resources, 'AWS::CloudWatch::Alarm').find(
    ([, alarm]) =>
      alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
      (alarm.Properties.Dimensions as { Value: Ref }[]).some(
        (dimension) => refId(dimension.Value) === queueId,
      ),
  )?.[1];

describe('several products in one stack', () => {
  const ADDON_CODE = 'addon0product0code';
  const ADDON_ID = 'prod-addon0000001';
  const asTwoProducts = (input: ConfigInput) => {
    const raw = input as unknown as Record<string, Record<string, unknown>>;
    const { apiRegion, ...listing } = raw.marketplace as Record<string, unknown>;
    const { units, ...sharedMetering } = raw.metering as Record<string, unknown>;
    const plans = raw.plans;
    delete raw.plans;
    Object.assign(raw, {
      marketplace: { apiRegion },
      metering: sharedMetering,
      products: [
        { ...listing, plans, meteringUnits: units },
        {
          productCode: ADDON_CODE,
          productId: ADDON_ID,
          pricingModel: 'contract-with-consumption',
          plans: { byDimension: { seats: 'addon-plan' } },
          meteringUnits: [{ saasusUnit: 'reports', dimension: 'reports', aggregation: 'sum' }],
        },
      ],
    });
  };
  const one = synthesize();
  const two = synthesize(asTwoProducts);
  const countByType = (resources: Record<string, Resource>) => {
    const counts: Record<string, number> = {};
    for (const resource of Object.values(resources)) counts[resource.Type] = (counts[resource.Type] ?? 0) + 1;
    return counts;
  };

  it('adds no resource for a second product: one fulfillment API, one fan-out, one worker pool and limiter, one rule set', () => {
    expect(countByType(two.resources)).toEqual(countByType(one.resources));
  });

  it("has one Marketplace rule that lets through either product's events and nobody else's", () => {
    const rules = ofType(two.resources, 'AWS::Events::Rule').filter(
      ([, candidate]) => candidate.Properties.EventPattern?.source?.[0] === 'aws.agreement-marketplace',
    );
    expect(rules).toHaveLength(1);
    const pattern = rules[0]?.[1].Properties.EventPattern;
    const event = (detail: Record<string, unknown>) => ({
      version: '0',
      id: 'e-1',
      'detail-type': 'License Updated - Manufacturer',
      source: 'aws.agreement-marketplace',
      account: '000000000000',
      time: '2026-07-01T10:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail,
    });
    const first = two.config.products[0];
    expect(matchesEventPattern(pattern, event({ product: { code: first?.productCode } }))).toBe(true);
    expect(matchesEventPattern(pattern, event({ product: { code: ADDON_CODE } }))).toBe(true);
    expect(matchesEventPattern(pattern, event({ product: { id: ADDON_ID } }))).toBe(true);
    expect(matchesEventPattern(pattern, event({ product: { code: 'someoneelse' } }))).toBe(false);
  });
});

describe('the Marketplace event rule', () => {
  const { template, resources, config } = synthesize();
  const [, rule] =
    ofType(resources, 'AWS::Events::Rule').find(
      ([, candidate]) => candidate.Properties.EventPattern?.source?.[0] === 'aws.agreement-marketplace',
    ) ?? [];
  const pattern = rule?.Properties.EventPattern;
  const event = (
    detailType: string,
    detail: Record<string, unknown>,
    source = 'aws.agreement-marketplace',
  ) => ({
    version: '0',
    id: 'e-1',
    'detail-type': detailType,
    source,
    account: '000000000000',
    time: '2026-07-01T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  });

  it('listens on the default bus for the SaaS agreement and license detail-types', () => {
    expect(rule?.Properties.EventBusName).toBeUndefined();
    expect(pattern.source).toEqual(['aws.agreement-marketplace']);
    expect(pattern['detail-type']).toEqual([...marketplaceDetailTypes]);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        'detail-type': Match.arrayWith(['License Deprovisioned - Manufacturer']),
      }),
    });
  });

  it("lets through this listing's events and agreement events without a product, nothing else", () => {
    const { productCode, productId } = onlyProduct(config);
    const accepted = [
      event('License Updated - Manufacturer', { product: { code: productCode, id: productId } }),
      event('License Deprovisioned - Manufacturer', { product: { code: productCode } }),
      event('Purchase Agreement Created - Proposer', { product: { id: productId }, agreement: { id: 'a' } }),
      event('Purchase Agreement Ended - Manufacturer', { agreement: { id: 'a' } }),
    ];
    const refused = [
      event('License Updated - Manufacturer', { product: { code: 'otherproduct' } }),
      event('Purchase Agreement Created - Proposer', { product: { id: 'prod-someoneelse1' } }),
      event('Purchase Agreement Ending - Proposer', { agreement: { id: 'a' } }),
      event('License Updated - Manufacturer', { product: { code: productCode } }, 'aws.marketplace'),
    ];
    expect(accepted.map((candidate) => matchesEventPattern(pattern, candidate))).toEqual(
      accepted.map(() => true),
    );
    expect(refused.map((candidate) => matchesEventPattern(pattern, candidate))).toEqual(
      refused.map(() => false),
    );
  });
});

describe('failure handling', () => {
  const { resources } = synthesize(withEverySource);
  const marketplace = functionId(resources, 'functions/events/marketplace.ts') as string;
  const saasus = functionId(resources, 'functions/events/saasus.ts') as string;
  const legacy = functionId(resources, 'functions/events/legacy-sns.ts') as string;

  const invokeConfigOf = (fnId: string) =>
    ofType(resources, 'AWS::Lambda::EventInvokeConfig').find(
      ([, config]) => refId(config.Properties.FunctionName as Ref) === fnId,
    )?.[1];

  it.each([
    ['Marketplace', () => marketplace],
    ['SaaSus', () => saasus],
  ])(
    '%s events: retried asynchronously, then sent to a 14-day dead-letter queue with an alarm',
    (_name, fnId) => {
      const invokeConfig = invokeConfigOf(fnId());
      expect(invokeConfig?.Properties.MaximumRetryAttempts).toBe(ASYNC_RETRY_ATTEMPTS);
      const dlqId = refId(invokeConfig?.Properties.DestinationConfig.OnFailure.Destination as Ref);
      expect(resources[dlqId]?.Type).toBe('AWS::SQS::Queue');
      expect(resources[dlqId]?.Properties.MessageRetentionPeriod).toBe(FOURTEEN_DAYS);
      expect(alarmOn(resources, dlqId)?.Properties.AlarmActions).toHaveLength(1);
      // The rule's own delivery failures go to the same queue.
      const target = ofType(resources, 'AWS::Events::Rule')
        .flatMap(
          ([, rule]) =>
            rule.Properties.Targets as { Arn: Ref; DeadLetterConfig?: { Arn: Ref }; RetryPolicy?: unknown }[],
        )
        .find((candidate) => refId(candidate.Arn) === fnId());
      expect(target?.DeadLetterConfig && refId(target.DeadLetterConfig.Arn)).toBe(dlqId);
      expect(target?.RetryPolicy).toBeDefined();
    },
  );

  it('legacy SNS: an SQS source reporting batch item failures, redriven to a 14-day dead-letter queue with an alarm', () => {
    const [, mapping] =
      ofType(resources, 'AWS::Lambda::EventSourceMapping').find(
        ([, candidate]) => refId(candidate.Properties.FunctionName as Ref) === legacy,
      ) ?? [];
    expect(mapping?.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const queueId = refId(mapping?.Properties.EventSourceArn as Ref);
    const redrive = resources[queueId]?.Properties.RedrivePolicy as {
      deadLetterTargetArn: Ref;
      maxReceiveCount: number;
    };
    expect(redrive.maxReceiveCount).toBeGreaterThan(1);
    const dlqId = refId(redrive.deadLetterTargetArn);
    expect(resources[dlqId]?.Properties.MessageRetentionPeriod).toBe(FOURTEEN_DAYS);
    expect(alarmOn(resources, dlqId)).toBeDefined();
    expect(invokeConfigOf(legacy)).toBeUndefined();
  });

  it('legacy SNS: a notification that does not parse goes to that dead-letter queue, named in the environment, with sqs:SendMessage only', () => {
    const [, mapping] =
      ofType(resources, 'AWS::Lambda::EventSourceMapping').find(
        ([, candidate]) => refId(candidate.Properties.FunctionName as Ref) === legacy,
      ) ?? [];
    const queueId = refId(mapping?.Properties.EventSourceArn as Ref);
    const dlqId = refId(resources[queueId]?.Properties.RedrivePolicy.deadLetterTargetArn as Ref);
    expect(resources[legacy]?.Properties.Environment.Variables.DEAD_LETTER_QUEUE_URL).toEqual({ Ref: dlqId });
    const granted = permissions(resources, legacy);
    expect(
      granted
        .filter((permission) => JSON.stringify(permission.resource).includes(dlqId))
        .map((p) => p.action),
    ).toEqual(['sqs:SendMessage']);
    // It sends to no other queue (the source queue is only consumed).
    expect(
      granted.filter((permission) => permission.action === 'sqs:SendMessage').map((p) => p.resource),
    ).toEqual([{ 'Fn::GetAtt': [dlqId, 'Arn'] }]);
    // The EventBridge-invoked functions fail into their dead-letter queues through Lambda instead.
    for (const fnId of [marketplace, saasus]) {
      expect(resources[fnId]?.Properties.Environment.Variables.DEAD_LETTER_QUEUE_URL).toBeUndefined();
    }
  });

  it('License Ending domain events become flush messages on the metering queue, with a dead-letter queue', () => {
    const [, rule] =
      ofType(resources, 'AWS::Events::Rule').find(([, candidate]) =>
        (candidate.Properties.EventPattern?.['detail-type'] ?? []).includes('License Ending'),
      ) ?? [];
    expect(rule?.Properties.EventPattern).toEqual({
      source: ['marketplace-bridge'],
      'detail-type': ['License Ending'],
    });
    expect(resources[refId(rule?.Properties.EventBusName as Ref)]?.Properties.Name).toBe(
      'marketplace-bridge-dev',
    );
    const [target] = (rule?.Properties.Targets ?? []) as {
      Arn: Ref;
      InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
      DeadLetterConfig: { Arn: Ref };
    }[];
    const { InputPathsMap: paths, InputTemplate: template } = target?.InputTransformer ?? {
      InputPathsMap: {},
      InputTemplate: '',
    };
    const [placeholder] = Object.keys(paths);
    expect(paths[placeholder ?? '']).toBe('$.detail.licenseKey');
    expect(JSON.parse(template.replace(`<${placeholder}>`, '"LICENSE"'))).toEqual({
      kind: 'flush',
      licenseKey: 'LICENSE',
    });
    // The metering worker consumes that queue.
    const consumer = ofType(resources, 'AWS::Lambda::EventSourceMapping').find(
      ([, mapping]) => target && refId(mapping.Properties.EventSourceArn as Ref) === refId(target.Arn),
    );
    expect(consumer).toBeDefined();
    const dlqId = refId(target?.DeadLetterConfig.Arn as Ref);
    expect(resources[dlqId]?.Properties.MessageRetentionPeriod).toBe(FOURTEEN_DAYS);
    expect(alarmOn(resources, dlqId)).toBeDefined();
  });
});

describe('least privilege', () => {
  const { resources } = synthesize(withEverySource);
  const actionsOf = (entry: string) =>
    permissions(resources, functionId(resources, entry) as string).map((permission) => permission.action);

  it.each(['functions/events/marketplace.ts', 'functions/events/legacy-sns.ts'])(
    '%s may read entitlements but neither meter nor resolve customers',
    (entry) => {
      const actions = actionsOf(entry);
      expect(actions).toContain('aws-marketplace:GetEntitlements');
      expect(actions.filter((action) => action.startsWith('aws-marketplace:'))).toEqual([
        'aws-marketplace:GetEntitlements',
      ]);
      expect(actions).not.toContain('aws-marketplace:BatchMeterUsage');
      expect(actions).not.toContain('aws-marketplace:ResolveCustomer');
    },
  );

  it('the SaaSus event function has no AWS Marketplace permission at all', () => {
    expect(
      actionsOf('functions/events/saasus.ts').filter((action) => action.startsWith('aws-marketplace:')),
    ).toEqual([]);
  });

  it('the idempotency table is used record by record, never scanned or queried', () => {
    const fnId = functionId(resources, 'functions/events/marketplace.ts') as string;
    const onIdempotency = permissions(resources, fnId)
      .filter((permission) => JSON.stringify(permission.resource).includes('StateIdempotency'))
      .map((permission) => permission.action)
      .sort();
    expect(onIdempotency).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });
});

describe('optional sources', () => {
  it('without legacySns: no topic subscription and no SQS-triggered event function', () => {
    const { resources } = synthesize();
    expect(functionId(resources, 'functions/events/legacy-sns.ts')).toBeUndefined();
    expect(ofType(resources, 'AWS::SNS::Subscription')).toEqual([]);
  });

  it('with legacySns: the queue subscribes to each configured topic, with a dead-letter queue for deliveries', () => {
    const { template } = synthesize(withEverySource);
    for (const topicArn of [legacyTopic, entitlementTopic]) {
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'sqs',
        TopicArn: topicArn,
        RedrivePolicy: { deadLetterTargetArn: Match.anyValue() },
      });
    }
    template.resourceCountIs('AWS::SNS::Subscription', 2);
  });

  it('with saasusEvents: a partner event bus and a rule on the SaaSus source prefix', () => {
    const { resources, config } = synthesize();
    const [busId, bus] = ofType(resources, 'AWS::Events::EventBus').find(
      ([, candidate]) => candidate.Properties.EventSourceName !== undefined,
    ) ?? ['', undefined];
    expect(bus?.Properties.EventSourceName).toBe(config.saasusEvents?.eventSourceName);
    const rule = ofType(resources, 'AWS::Events::Rule').find(
      ([, candidate]) =>
        candidate.Properties.EventBusName && refId(candidate.Properties.EventBusName as Ref) === busId,
    )?.[1];
    expect(rule?.Properties.EventPattern).toEqual({ source: [{ prefix: 'aws.partner/saasus.io' }] });
    expect(refId(rule?.Properties.Targets[0].Arn as Ref)).toBe(
      functionId(resources, 'functions/events/saasus.ts'),
    );
    const tenantDeleted = ofType(resources, 'AWS::CloudWatch::Alarm').find(
      ([, alarm]) => alarm.Properties.MetricName === 'TenantDeleted',
    )?.[1];
    expect(tenantDeleted?.Properties).toMatchObject({
      Namespace: 'MarketplaceBridge',
      Dimensions: [{ Name: 'service', Value: 'saasus-events' }],
    });
  });

  it('alarms on PlanDrift only when drift is reported instead of corrected', () => {
    const planDriftAlarms = (resources: ReturnType<typeof synthesize>['resources']) =>
      ofType(resources, 'AWS::CloudWatch::Alarm').filter(
        ([, alarm]) => alarm.Properties.MetricName === 'PlanDrift',
      );
    expect(planDriftAlarms(synthesize().resources)).toEqual([]);
    const alerting = synthesize((input) => {
      (input.saasusEvents as Record<string, unknown>).onPlanDrift = 'alert';
    });
    const [alarm] = planDriftAlarms(alerting.resources);
    expect(alarm?.[1].Properties).toMatchObject({
      Namespace: 'MarketplaceBridge',
      Dimensions: [{ Name: 'service', Value: 'saasus-events' }],
    });
  });

  it('without saasusEvents: no partner bus and no SaaSus event function', () => {
    const { resources } = synthesize((input) => {
      delete input.saasusEvents;
    });
    expect(functionId(resources, 'functions/events/saasus.ts')).toBeUndefined();
    expect(
      ofType(resources, 'AWS::Events::EventBus').filter(([, bus]) => bus.Properties.EventSourceName),
    ).toEqual([]);
  });
});

describe('region', () => {
  it('fails synth outside us-east-1, saying why and how to fix it', () => {
    const attempt = () =>
      synthesize((input) => {
        input.region = 'eu-west-1';
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /region is "eu-west-1", but AWS Marketplace sends agreement and license events only to the default event bus in us-east-1.*Set "region": "us-east-1" in the config file/,
    );
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged with every event source configured', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    addBridge(app, parseDeploymentConfig(configInput(withEverySource)));
    expect(() => app.synth()).not.toThrow();
  });
});
