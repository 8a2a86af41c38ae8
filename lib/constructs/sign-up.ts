import { CfnOutput, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DeploymentConfig } from '#shared/config';
import { provisioningMetrics } from '#shared/signup/provisioning';
import type { Alarms } from './alarms.js';
import { BridgeFunction, METRICS_NAMESPACE } from './bridge-function.js';
import { grantDataAccess } from './data-access.js';
import { FulfillmentDomain } from './fulfillment-domain.js';
import { acknowledgeMarketplaceWildcard, grantSecretRead, runtimeEnvironment } from './runtime.js';
import type { State } from './state.js';

export interface SignUpProps {
  /** The validated deployment config. */
  readonly config: DeploymentConfig;
  /** Shared tables and the domain event bus. */
  readonly state: State;
  /** Where failures are reported. */
  readonly alarms: Alarms;
  /**
   * Steady-state request rate the public endpoint accepts, per second; bursts above
   * `throttleBurst` get HTTP 429 from API Gateway before reaching the function.
   * @default 20
   */
  readonly throttleRate?: number;
  /** @default 40 */
  readonly throttleBurst?: number;
}

/**
 * The fulfillment URL and registration pages: an HTTP API (stage throttling caps what abuse can
 * cost; sign-up traffic is human-paced) in front of one function that resolves the registration
 * token, renders the registration page and provisions the SaaSus tenant.
 */
export class SignUp extends Construct {
  readonly function: BridgeFunction;
  readonly api: HttpApi;
  /** The URL to paste into the AWS Marketplace Management Portal as the fulfillment URL. */
  readonly fulfillmentUrl: string;

  constructor(scope: Construct, id: string, props: SignUpProps) {
    super(scope, id);
    const { config, state } = props;

    const sessionKey = new Secret(this, 'SessionKey', {
      description: 'Seals the short-lived registration session cookie of the Marketplace sign-up flow',
      // JSON `{ "key": "..." }`, read by the handler at cold start.
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'key',
        passwordLength: 64,
        excludePunctuation: true,
      },
    });
    Validations.of(sessionKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The key only seals registration sessions that expire after 30 minutes; replacing it by hand just ends open sessions, so a rotation function adds nothing.',
    });

    this.function = new BridgeFunction(this, 'Handler', {
      entry: 'functions/sign-up/handler.ts',
      description: 'Marketplace fulfillment URL, registration page and SaaSus provisioning',
      serviceName: 'sign-up',
      timeout: Duration.seconds(29),
      environment: {
        ...runtimeEnvironment(config, state),
        SESSION_SECRET_NAME: sessionKey.secretName,
        SIGN_UP_CLAIMS_TABLE: state.signUpClaims.tableName,
      },
    });
    sessionKey.grantRead(this.function);
    grantDataAccess(this.function, state);
    state.domainEventBus.grantPutEventsTo(this.function);
    grantSecretRead(this, this.function, 'SaasusSecret', config.saasus.secretName);
    if (config.idoperation) {
      grantSecretRead(this, this.function, 'IdoperationSecret', config.idoperation.secretName);
    }
    const marketplaceActions = ['aws-marketplace:ResolveCustomer', 'aws-marketplace:GetEntitlements'];
    this.function.addToRolePolicy(new PolicyStatement({ actions: marketplaceActions, resources: ['*'] }));
    acknowledgeMarketplaceWildcard(this.function, marketplaceActions);

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new HttpApi(this, 'Api', {
      description: 'Marketplace Bridge fulfillment URL and registration pages',
      createDefaultStage: false,
    });
    const stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRate ?? 20, burstLimit: props.throttleBurst ?? 40 },
      // No query strings in the format: nothing sensitive travels in URLs, and logs stay clean anyway.
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    });
    const integration = new HttpLambdaIntegration('Integration', this.function);
    this.api.addRoutes({ path: '/', methods: [HttpMethod.ANY], integration });
    this.api.addRoutes({ path: '/{proxy+}', methods: [HttpMethod.ANY], integration });
    for (const route of this.api.node.findAll()) {
      if (route.node.id === 'Resource' && route.node.scope?.node.id.includes('ANY')) {
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'The fulfillment URL is public by design: AWS Marketplace posts the buyer browser here; requests are authenticated by the registration token and the sealed session.',
        });
      }
    }

    props.alarms.onMetric(
      'SignUpServerErrors',
      this.api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      'Sign-up answered HTTP 5xx: buyers could not complete their registration',
    );
    props.alarms.onMetric(
      'ProvisioningNeedsAttention',
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: provisioningMetrics.needsAttention,
        dimensionsMap: { service: 'sign-up' },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      "A buyer's account set-up kept failing at one step: the license is marked needsAttention with the reason",
    );
    props.alarms.onFunctionErrors('SignUpFunctionErrors', this.function, 'The sign-up function failed');

    this.fulfillmentUrl = config.customDomain
      ? new FulfillmentDomain(this, 'Domain', { domain: config.customDomain, api: this.api, stage }).url
      : stage.url;
    new CfnOutput(this, 'FulfillmentUrl', {
      value: this.fulfillmentUrl,
      description: 'Paste this into the AWS Marketplace Management Portal as the fulfillment URL',
    });
  }
}
