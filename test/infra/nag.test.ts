import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { addBridge } from '#lib/app';
import { cdkJsonContext, exampleConfig } from '../support/config.js';

// Synthesis with the AwsSolutions plugin throws when there is an unacknowledged finding, so
// these tests keep their own Apps (see the infrastructure notes in the README).
describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in the stack built from the example config', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    addBridge(app, exampleConfig());
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synthesis on a finding (the gate is live)', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Insecure');
    new Queue(stack, 'NoDlqNoSsl');
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3[\s\S]*AwsSolutions-SQS4/);
  });
});
