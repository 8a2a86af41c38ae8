import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addBridge } from '#lib/app';
import { ConfigError, parseDeploymentConfig } from '#shared/config';
import { cdkJsonContext, exampleConfigInput } from '../support/config.js';

const certificateArn = 'arn:aws:acm:us-east-1:111122223333:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';

const configWith = (customDomain: unknown) => {
  const input = exampleConfigInput() as Record<string, unknown>;
  input.customDomain = customDomain;
  return parseDeploymentConfig(input);
};

/** The whole app as `cdk synth` builds it, AwsSolutions checks included (synth throws on a finding). */
const synthesize = (customDomain: unknown) => {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = addBridge(app, configWith(customDomain));
  app.synth();
  return Template.fromStack(stack);
};

const fulfillmentUrlOutput = (template: Template) => {
  const [output, ...others] = Object.entries(template.findOutputs('*')).filter(([id]) =>
    id.includes('FulfillmentUrl'),
  );
  expect(others).toEqual([]);
  return output?.[1].Value;
};

describe('custom domain for the fulfillment URL', () => {
  it('maps a regional TLS 1.2 custom domain to the sign-up API, aliases it in the hosted zone and outputs it', () => {
    const template = synthesize({
      domainName: 'signup.nimbus-analytics.jp',
      certificateArn,
      hostedZone: { id: 'Z0123456789ABCDEFGHIJ', name: 'nimbus-analytics.jp' },
    });
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'signup.nimbus-analytics.jp',
      DomainNameConfigurations: [
        { CertificateArn: certificateArn, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' },
      ],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      ApiId: { Ref: Match.stringLikeRegexp('SignUpApi') },
      DomainName: { Ref: Match.stringLikeRegexp('SignUpDomain') },
      Stage: '$default',
    });
    // The mapping waits for the stage it names.
    const [mapping] = Object.values(template.findResources('AWS::ApiGatewayV2::ApiMapping'));
    expect(mapping?.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/SignUpStage/)]));
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'signup.nimbus-analytics.jp.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      AliasTarget: {
        DNSName: { 'Fn::GetAtt': [Match.stringLikeRegexp('SignUpDomain'), 'RegionalDomainName'] },
        HostedZoneId: { 'Fn::GetAtt': [Match.stringLikeRegexp('SignUpDomain'), 'RegionalHostedZoneId'] },
      },
    });
    expect(fulfillmentUrlOutput(template)).toBe('https://signup.nimbus-analytics.jp/');
  });

  it('without a hosted zone creates no record and outputs the DNS target to point the name at', () => {
    const template = synthesize({ domainName: 'signup.nimbus-analytics.jp', certificateArn });
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 1);
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    expect(fulfillmentUrlOutput(template)).toBe('https://signup.nimbus-analytics.jp/');
    const dnsTarget = Object.entries(template.findOutputs('*')).find(([id]) => id.includes('DnsTarget'));
    expect(JSON.stringify(dnsTarget?.[1].Value)).toMatch(/SignUpDomain.*RegionalDomainName/);
  });

  it('keeps the execute-api URL without a custom domain', () => {
    const template = synthesize(undefined);
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    expect(JSON.stringify(fulfillmentUrlOutput(template))).toContain('execute-api');
  });

  it.each([
    [
      {
        domainName: 'signup.nimbus-analytics.jp',
        certificateArn: certificateArn.replace('us-east-1', 'ap-northeast-1'),
      },
      "customDomain.certificateArn: the certificate is in ap-northeast-1; a regional API needs it in the stack's region, us-east-1",
    ],
    [
      {
        domainName: 'signup.nimbus-analytics.jp',
        certificateArn,
        hostedZone: { id: 'Z0123456789ABCDEFGHIJ', name: 'other.jp' },
      },
      'customDomain.hostedZone.name: signup.nimbus-analytics.jp is not in the hosted zone other.jp',
    ],
    [
      { domainName: 'https://signup.nimbus-analytics.jp', certificateArn },
      'customDomain.domainName: expected a lowercase DNS name',
    ],
    [
      { domainName: 'signup.nimbus-analytics.jp', certificateArn: 'cert-123' },
      'customDomain.certificateArn: expected an ACM certificate ARN',
    ],
    [{ domainName: 'signup.nimbus-analytics.jp' }, 'customDomain.certificateArn: required'],
  ])('refuses %o at synth', (customDomain, expected) => {
    expect(() => configWith(customDomain)).toThrow(ConfigError);
    expect(() => configWith(customDomain)).toThrow(expected);
  });
});
