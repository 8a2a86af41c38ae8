import { AwsJsonError, awsJsonHandler, type RunningServer, startServer } from './http.js';

/**
 * A Secrets Manager emulator for GetSecretValue (AWS JSON 1.1, target
 * `secretsmanager.GetSecretValue`). Secrets are found by name or by the ARN it reports; object
 * values are stored as their JSON text, as the console stores key/value secrets.
 */

export type SecretValue = string | object;

export interface SecretsManagerEmulatorOptions {
  readonly secrets?: Readonly<Record<string, SecretValue>>;
  readonly port?: number;
  readonly account?: string;
  readonly region?: string;
}

export interface SecretsManagerEmulator {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  /** Creates or replaces a secret (a new version). */
  putSecret(name: string, value: SecretValue): void;
  /** GetSecretValue calls for one secret (by the id asked for), or in total. */
  callCount(secretId?: string): number;
}

interface StoredSecret {
  readonly name: string;
  readonly arn: string;
  readonly secretString: string;
  readonly versionId: string;
  readonly createdAt: Date;
}

const randomSuffix = () => crypto.randomUUID().replaceAll('-', '').slice(0, 6);

export const startSecretsManagerEmulator = async (
  options: SecretsManagerEmulatorOptions = {},
): Promise<SecretsManagerEmulator> => {
  const account = options.account ?? '000000000000';
  const region = options.region ?? 'us-east-1';
  const secrets = new Map<string, StoredSecret>();
  const calls: string[] = [];

  const putSecret = (name: string, value: SecretValue) => {
    if (name === '') throw new Error('A secret needs a name');
    const existing = secrets.get(name);
    secrets.set(name, {
      name,
      arn: existing?.arn ?? `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomSuffix()}`,
      secretString: typeof value === 'string' ? value : JSON.stringify(value),
      versionId: crypto.randomUUID(),
      createdAt: new Date(),
    });
  };
  for (const [name, value] of Object.entries(options.secrets ?? {})) putSecret(name, value);

  const find = (secretId: string) =>
    secrets.get(secretId) ?? [...secrets.values()].find((secret) => secret.arn === secretId);

  const getSecretValue = (input: Record<string, unknown>) => {
    const secretId = input.SecretId;
    if (typeof secretId !== 'string' || secretId === '') {
      throw new AwsJsonError('InvalidParameterException', 'SecretId is required.');
    }
    calls.push(secretId);
    const secret = find(secretId);
    const stage = input.VersionStage;
    const versionId = input.VersionId;
    if (
      !secret ||
      (stage !== undefined && stage !== 'AWSCURRENT') ||
      (versionId !== undefined && versionId !== secret.versionId)
    ) {
      throw new AwsJsonError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: secret.versionId,
      SecretString: secret.secretString,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.createdAt.getTime() / 1000,
    };
  };

  const server: RunningServer = await startServer(
    awsJsonHandler('secretsmanager', { GetSecretValue: getSecretValue }),
    options.port ?? 0,
  );
  return {
    url: server.url,
    port: server.port,
    close: () => server.close(),
    putSecret,
    callCount: (secretId) =>
      secretId === undefined ? calls.length : calls.filter((id) => id === secretId).length,
  };
};
