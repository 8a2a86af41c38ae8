import { App, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Alarm, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { MarketplaceBridgeStack } from '#lib/marketplace-bridge-stack';
import { cdkJsonContext, exampleConfig } from '../support/config.js';

/** The operations dashboard: its widgets, and every alarm of the stack on it. */

const synthesize = (extend: (stack: MarketplaceBridgeStack) => void = () => {}) => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new MarketplaceBridgeStack(app, 'Test', {
    config: exampleConfig(),
    env: { region: 'us-east-1' },
  });
  extend(stack);
  return Template.fromStack(stack);
};

/** The dashboard body with each token written as the logical id it refers to. */
const dashboardBody = (template: Template): string => {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  return body['Fn::Join'][1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      return `<${token.Ref ?? token['Fn::GetAtt']?.[0] ?? JSON.stringify(part)}>`;
    })
    .join('');
};

describe('operations dashboard', () => {
  const template = synthesize();
  const body = dashboardBody(template);
  const widgets = (
    JSON.parse(body.replace(/<[^>]+>/g, 'TOKEN')) as { widgets: { properties: { title?: string } }[] }
  ).widgets;
  const titles = widgets.map((widget) => widget.properties.title).filter(Boolean);

  it('has a widget for each thing an operator watches', () => {
    expect(titles).toEqual(
      expect.arrayContaining([
        'Sign-ups: fulfillment URL requests',
        'Events processed and failed, per source',
        'Metering records by outcome',
        'BatchMeterUsage calls and throttled retries per minute, against the quota',
        'Metering lag: oldest unreported usage hour (seconds)',
        'Dead-letter queue depths',
        'Function errors',
        'Function duration (p99, ms)',
      ]),
    );
    for (const metric of [
      'UsageRecordAccepted',
      'UsageRecordRejected',
      'UsageRecordExpired',
      'CustomerNotSubscribed',
      'BatchMeterUsageCalls',
      'BatchMeterUsageRetries',
      'OldestUnreportedHourLag',
    ]) {
      expect(body).toContain(`"${metric}"`);
    }
    // The quota line: 10 calls/s is 600 a minute.
    expect(body).toContain('"value":600');
  });

  it('shows every alarm of the stack', () => {
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(5);
    for (const alarm of alarms) expect(body, alarm).toContain(`<${alarm}>`);
    expect(titles).toContain(`Alarms (${alarms.length})`);
  });

  it('shows the depth of every dead-letter queue and the errors of every function', () => {
    const queues = Object.entries(template.findResources('AWS::SQS::Queue'))
      .filter(([id]) => /DeadLetters/.test(id))
      .map(([id]) => id);
    for (const queue of queues) expect(body, queue).toContain(`<${queue}>`);
    for (const fn of Object.keys(template.findResources('AWS::Lambda::Function')))
      expect(body, fn).toContain(`<${fn}>`);
  });

  it('picks up an alarm added anywhere in the stack after it was built', () => {
    const extended = dashboardBody(
      synthesize((stack) => {
        new Alarm(stack, 'LateAlarm', {
          metric: new Metric({ namespace: 'Test', metricName: 'Late', period: Duration.minutes(5) }),
          threshold: 1,
          evaluationPeriods: 1,
        });
      }),
    );
    expect(extended).toMatch(/<LateAlarm[0-9A-F]*>/);
  });
});
