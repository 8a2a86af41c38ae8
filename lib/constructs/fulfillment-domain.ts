import { CfnOutput } from 'aws-cdk-lib';
import {
  ApiMapping,
  DomainName,
  type HttpApi,
  type HttpStage,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { ARecord, HostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { ApiGatewayv2DomainProperties } from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '#shared/config';

export interface FulfillmentDomainProps {
  readonly domain: NonNullable<DeploymentConfig['customDomain']>;
  readonly api: HttpApi;
  readonly stage: HttpStage;
}

/**
 * The fulfillment URL on the seller's own domain: an API Gateway custom domain (regional, so the
 * ACM certificate lives in the stack's region; TLS 1.2 minimum) mapped to the sign-up API, and,
 * given a hosted zone, the Route 53 alias record. Buyers then land on the seller's name instead
 * of `<id>.execute-api.<region>.amazonaws.com`.
 */
export class FulfillmentDomain extends Construct {
  readonly url: string;

  constructor(scope: Construct, id: string, props: FulfillmentDomainProps) {
    super(scope, id);
    const { domain } = props;
    const domainName = new DomainName(this, 'DomainName', {
      domainName: domain.domainName,
      certificate: Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn),
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    new ApiMapping(this, 'Mapping', { api: props.api, domainName, stage: props.stage });
    if (domain.hostedZone) {
      new ARecord(this, 'Alias', {
        zone: HostedZone.fromHostedZoneAttributes(this, 'Zone', {
          hostedZoneId: domain.hostedZone.id,
          zoneName: domain.hostedZone.name,
        }),
        recordName: domain.domainName,
        target: RecordTarget.fromAlias(
          new ApiGatewayv2DomainProperties(domainName.regionalDomainName, domainName.regionalHostedZoneId),
        ),
      });
    } else {
      new CfnOutput(this, 'DnsTarget', {
        value: domainName.regionalDomainName,
        description: `Point ${domain.domainName} here (CNAME, or an alias A record in Route 53)`,
      });
    }
    this.url = `https://${domain.domainName}/`;
  }
}
