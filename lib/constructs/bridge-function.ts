import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface BridgeFunctionProps {
  /** Path of the handler module, relative to the project root, e.g. `functions/sign-up/fulfillment.ts`. */
  readonly entry: string;
  /** What the function does, shown in the Lambda console. */
  readonly description: string;
  /** Powertools service name for logs and metrics, e.g. `sign-up`. */
  readonly serviceName: string;
  /** Extra environment variables; validated by the handler at cold start. */
  readonly environment?: Record<string, string>;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** @default 512 MiB */
  readonly memorySize?: number;
  /** @default 1 month */
  readonly logRetention?: RetentionDays;
  /** Reserved concurrency, to cap what a public endpoint can cost. @default none */
  readonly reservedConcurrentExecutions?: number;
}

/** Template metadata key holding a function's source entry (read by the sandbox router). */
export const ENTRY_METADATA_KEY = 'MarketplaceBridge:Entry';

/** Metrics namespace shared by every function of the app. */
export const METRICS_NAMESPACE = 'MarketplaceBridge';

/**
 * The one Function construct of the app: it fixes runtime, architecture, ESM bundling, log
 * retention and Powertools defaults, so capability constructs only pass an entry and grants.
 */
export class BridgeFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: BridgeFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role instead of AWSLambdaBasicExecutionRole, whose logs actions cover every log
    // group in the account: this one may only write to the function's own log group (below).
    const role = new Role(scope, `${id}ServiceRole`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    super(scope, id, {
      role,
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      // Tracer is not used: it would pull the CommonJS X-Ray SDK into every bundle.
      tracing: Tracing.DISABLED,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      // No NODE_OPTIONS=--enable-source-maps: Node would parse the bundle's source map (megabytes,
      // with the SDK bundled) at every cold start. The map ships next to the bundle for reading
      // stack traces offline.
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        metafile: true,
        // The AWS SDK v3 clients are bundled and tree-shaken too: loading the runtime's copy (hundreds
        // of CommonJS files) cost more cold start than everything else together (BENCHMARKS.md §2).
        externalModules: [],
        // Some bundled CommonJS dependencies call require(); ESM output needs one defined.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    // Lets the local sandbox find the source module behind each function in the synthesized template.
    (this.node.defaultChild as CfnFunction).addMetadata(ENTRY_METADATA_KEY, props.entry);
    // Lambda writes to the log group it is given; it never creates log groups.
    logGroup.grantWrite(role);
  }
}
