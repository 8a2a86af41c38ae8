import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DeploymentConfig } from '#shared/config';
import { type ControlPlane, type LocalEntity, startControlPlane } from './emulators/control-plane.js';
import { sandboxProduct } from './listing.js';
import type { Sandbox } from './runner.js';

/**
 * What the `marketplace-bridge` command-line tool needs to operate the sandbox as if it were a
 * deployment: the stack's name, the config with the local SaaSus/iDoperation URLs, and the AWS
 * endpoints of the local services (dynalite, the emulators, a DescribeStacks and Invoke stand-in).
 * `npm start` writes it to `localProfilePath`; `marketplace-bridge --sandbox <command>` reads it.
 */
export interface LocalProfile {
  readonly stackName: string;
  readonly config: DeploymentConfig;
  /** Variables the tool sets before it builds its AWS clients. */
  readonly environment: Readonly<Record<string, string>>;
}

export const localProfilePath = (projectRoot = process.cwd()): string =>
  path.join(projectRoot, 'node_modules', '.cache', 'marketplace-bridge-sandbox', 'cli-profile.json');

export interface OperatorEndpoints {
  readonly profile: LocalProfile;
  /** The control-plane stand-in; its `state` plays what the seller's account holds. */
  readonly controlPlane: ControlPlane;
  close(): Promise<void>;
}

/** Starts the control-plane stand-in for a running sandbox and describes how to reach it all. */
export const startOperatorEndpoints = async (sandbox: Sandbox): Promise<OperatorEndpoints> => {
  const region = sandbox.config.region;
  const { config } = sandbox;
  const partnerSource = config.saasusEvents?.eventSourceName;
  // The listing as the Catalog API describes it: every dimension the config names.
  const listing: LocalEntity = {
    entityType: 'SaaSProduct@1.0',
    details: {
      Description: {
        ProductTitle: 'Marketplace Bridge sandbox product',
        ProductCode: sandboxProduct(config).productCode,
      },
      Dimensions: [
        ...new Set([
          ...Object.keys(sandboxProduct(config).plans.byDimension),
          ...sandboxProduct(config).meteringUnits.map((unit) => unit.dimension),
        ]),
      ].map((key) => ({ Key: key, Name: key, Types: ['ExternalMetered'] })),
    },
  };
  const controlPlane = await startControlPlane(
    {
      region,
      account: sandbox.account,
      stacks: () => [{ stackName: sandbox.stackName, outputs: sandbox.outputs }],
      invokeAsync: (name, payload) => sandbox.invokeAsync(name, payload),
    },
    {
      eventSources: new Map(
        partnerSource ? [[partnerSource, { name: partnerSource, state: 'ACTIVE' as const }]] : [],
      ),
      eventBuses: new Map([
        ...(partnerSource ? [[partnerSource, partnerSource] as const] : []),
        ...(sandbox.domainBusName ? [[sandbox.domainBusName, undefined] as const] : []),
      ]),
      entities: new Map([[sandboxProduct(config).productId, listing]]),
    },
  );
  const { marketplace, secretsManager } = sandbox.emulators;
  const profile: LocalProfile = {
    stackName: sandbox.stackName,
    config: sandbox.config,
    environment: {
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'sandbox',
      AWS_SECRET_ACCESS_KEY: 'sandbox',
      AWS_ENDPOINT_URL_CLOUDFORMATION: controlPlane.url,
      AWS_ENDPOINT_URL_LAMBDA: controlPlane.url,
      AWS_ENDPOINT_URL_DYNAMODB: sandbox.dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sandbox.sqsUrl,
      // The operator's EventBridge calls (DescribeEventSource/Bus) go to the control-plane stand-in.
      AWS_ENDPOINT_URL_EVENTBRIDGE: controlPlane.url,
      AWS_ENDPOINT_URL_MARKETPLACE_CATALOG: controlPlane.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
      AWS_ENDPOINT_URL_MARKETPLACE_METERING: marketplace.url,
      AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE: marketplace.url,
    },
  };
  return { profile, controlPlane, close: () => controlPlane.close() };
};

export const writeLocalProfile = async (
  profile: LocalProfile,
  file = localProfilePath(),
): Promise<string> => {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  return file;
};
