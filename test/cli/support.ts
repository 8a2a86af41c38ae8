import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '#cli/main';
import { type Sandbox, type SandboxOptions, startSandbox } from '#sandbox/index';
import { type LocalProfile, type OperatorEndpoints, startOperatorEndpoints } from '#sandbox/operator-profile';
import { createBrowserSession, type PageResponse } from '#sandbox/scenario';

/**
 * The local world for the command-line tool: the sandbox of the real stack (dynalite, the
 * emulators, the handlers) plus the DescribeStacks/Invoke stand-in, and a profile file that
 * points the tool at them, as `npm start` writes it.
 */
export interface CliWorld {
  readonly sandbox: Sandbox;
  readonly profile: LocalProfile;
  readonly profileFile: string;
  /** The DescribeStacks/Invoke/Catalog/EventBridge stand-in (its state plays the seller's account). */
  readonly controlPlane: OperatorEndpoints['controlPlane'];
  /** Runs the tool in-process against the sandbox; output captured. */
  run(...argv: string[]): Promise<CliRun>;
  /** Writes another profile (e.g. a wrong stack name) and returns its path. */
  writeProfile(profile: LocalProfile): string;
  close(): Promise<void>;
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  json<T = Record<string, unknown>>(): T;
}

export const startCliWorld = async (options: SandboxOptions = {}): Promise<CliWorld> => {
  const sandbox = await startSandbox({ port: 0, handlerLogs: false, log: () => {}, warm: false, ...options });
  let endpoints: OperatorEndpoints;
  try {
    endpoints = await startOperatorEndpoints(sandbox);
  } catch (error) {
    await sandbox.close();
    throw error;
  }
  const directory = mkdtempSync(path.join(tmpdir(), 'marketplace-bridge-cli-'));
  const writeProfile = (profile: LocalProfile) => {
    const file = path.join(directory, `profile-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  };
  const profileFile = writeProfile(endpoints.profile);
  const run = async (...argv: string[]): Promise<CliRun> => {
    let stdout = '';
    let stderr = '';
    const withProfile = argv.some((arg) => arg === '--profile' || arg === '--stage' || arg === '--config')
      ? argv
      : [...argv, '--profile', profileFile];
    const code = await runCli(withProfile, {
      io: { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), interactive: false },
      now: () => sandbox.clock.now(),
    });
    return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
  };
  return {
    sandbox,
    profile: endpoints.profile,
    profileFile,
    controlPlane: endpoints.controlPlane,
    run,
    writeProfile,
    close: async () => {
      await endpoints.close();
      await sandbox.close();
    },
  };
};

/**
 * A buyer subscribes on the buyer simulator and registers, as a browser does (token POST to the
 * fulfillment URL, registration form); resolves the license and the SaaSus tenant.
 */
export const registerBuyer = async (
  sandbox: Sandbox,
  input: { readonly account: string; readonly dimension: string; readonly tenantName: string },
): Promise<{ licenseArn: string; tenantId: string }> => {
  const buyer = createBrowserSession(sandbox.url);
  const formWith = (page: PageResponse, action: string) => {
    const form = page.forms.find((candidate) => candidate.action.endsWith(action));
    if (!form) throw new Error(`No form posting to ${action} on ${page.url}`);
    return form;
  };
  const handOff = await buyer.submit(formWith(await buyer.get('/'), '/actions/subscribe'), {
    account: input.account,
    dimension: input.dimension,
    emitEvents: '1',
  });
  const tokenPost = handOff.forms.find((form) => 'x-amzn-marketplace-token' in form.fields);
  if (!tokenPost) throw new Error('The buyer simulator offered no token POST');
  const registration = await buyer.submit(tokenPost);
  await sandbox.settle();
  await buyer.submit(formWith(registration, '/register'), {
    tenantName: input.tenantName,
    adminEmail: `admin@${input.tenantName.toLowerCase().replace(/[^a-z]/g, '')}.example`,
    adminName: 'Admin',
  });
  await sandbox.settle();
  const tenant = (await sandbox.saasus().listTenants()).find(
    (candidate) => candidate.name === input.tenantName,
  );
  const agreement = [...sandbox.agreements.values()].find(
    (candidate) => candidate.customerAwsAccountId === input.account,
  );
  if (!tenant || !agreement) throw new Error(`The registration of ${input.tenantName} did not finish`);
  return { licenseArn: agreement.licenseArn, tenantId: tenant.id };
};
