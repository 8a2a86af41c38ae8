import { parseArgs } from 'node:util';
import { ConfigError } from '#shared/config';
import { type Sandbox, startSandbox } from './index.js';
import { startOperatorEndpoints, writeLocalProfile } from './operator-profile.js';
import { runScenario } from './scenario.js';
import { scenarios } from './scenarios/index.js';

/**
 * `npm start`: the whole system on this machine. `npm start -- --scenario smoke` runs a scripted
 * story against it instead and exits 0 only if every expectation held.
 */

const usage = `Usage: npm start -- [options]

  --scenario NAME   run a scripted scenario and exit (0 = every expectation held): ${Object.keys(scenarios).join(', ')}
  --config FILE     deployment config to synthesize (default config/example.json, or the scenario's own)
  --port N          web UI port (default $PORT or 3000; a scenario picks a free port unless given)
  --frozen          start with the simulated clock frozen
  --quiet           do not print handler logs (a scenario prints them only with --verbose)
  --verbose         with --scenario: print handler logs between the checklist lines
  --help            this text`;

// The functions run on Node.js 24 in Lambda; the SDK's notice about older Node.js versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const main = async () => {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      config: { type: 'string' },
      port: { type: 'string' },
      frozen: { type: 'boolean' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const scenario = values.scenario === undefined ? undefined : scenarios[values.scenario];
  if (values.scenario !== undefined && !scenario) {
    console.error(`Unknown scenario "${values.scenario}". Known: ${Object.keys(scenarios).join(', ')}`);
    return 2;
  }
  const portText = values.port ?? process.env.PORT ?? (scenario ? '0' : '3000');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`Invalid port "${portText}"`);
    return 2;
  }
  const configFile = values.config ?? scenario?.configFile ?? 'config/example.json';

  console.log(`Starting the Marketplace Bridge sandbox (${configFile})…`);
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({
      port,
      configFile,
      clock: { frozen: values.frozen ?? false },
      // A scenario's output is its checklist; its handler logs are there on request.
      handlerLogs: scenario ? (values.verbose ?? false) && !values.quiet : !(values.quiet ?? false),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 1;
    }
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`Port ${port} is in use. Choose another with PORT=3001 npm start (or --port).`);
      return 1;
    }
    throw error;
  }
  // Since the process started (tsx and module loading included), not just since main() ran.
  const readySeconds = process.uptime().toFixed(1);

  if (scenario) {
    console.log(`Sandbox ready at ${sandbox.url} in ${readySeconds} s.`);
    const result = await runScenario(scenario, sandbox, (line) => console.log(line));
    await sandbox.close();
    return result.passed ? 0 : 1;
  }

  // The command-line tool operates the sandbox as a deployment: `npx marketplace-bridge status --sandbox`.
  const operator = await startOperatorEndpoints(sandbox);
  await writeLocalProfile(operator.profile);

  const functions = [...sandbox.functions.values()].map((fn) => {
    const availability = fn.host.availability;
    return `    ${availability.available ? '✓' : '·'} ${fn.label.padEnd(20)} ${fn.model.entry ?? fn.model.logicalId}${availability.available ? '' : `  (${availability.reason})`}`;
  });
  const { emulators } = sandbox;
  const services: [string, string][] = [
    ['DynamoDB', sandbox.dynamo.endpoint],
    ['SaaSus', emulators.saasus.url],
    ['Marketplace', emulators.marketplace.url],
    ['EventBridge', emulators.eventBridge.url],
    ['Secrets Manager', emulators.secretsManager.url],
    ['SQS', sandbox.sqsUrl],
    ...(emulators.idoperation ? [['iDoperation', emulators.idoperation.url] as [string, string]] : []),
  ];
  const half = Math.ceil(services.length / 2);
  const serviceLines = services.slice(0, half).map(([name, url], index) => {
    const right = services[half + index];
    const left = `    ${name.padEnd(16)} ${url}`;
    return right ? `${left.padEnd(46)} ${right[0].padEnd(16)} ${right[1]}` : left;
  });
  const clockText = `${sandbox.clock.now().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${sandbox.clock.frozen ? 'frozen' : 'running with real time'}`;
  const lines = [
    '',
    `Marketplace Bridge sandbox: ${sandbox.stackName} from ${configFile}, ready in ${readySeconds} s${sandbox.templateFromCache ? ' (cached template)' : ''}.`,
    '',
    `  Buyer simulator   ${sandbox.url}/`,
    '                    subscribe as a buyer (the browser POSTs the registration token to the fulfillment URL),',
    '                    emit what AWS Marketplace sends later, and act as the SaaS (usage, plans, users)',
    `  Dashboard         ${sandbox.url}/dashboard`,
    '                    licenses, SaaSus tenants and users, iDoperation users, metering ledger vs. billed usage,',
    '                    domain events, dead letters, and the simulated clock ("Advance one hour" runs the schedules)',
    ...(sandbox.fulfillmentUrl
      ? [
          `  Fulfillment URL   ${sandbox.fulfillmentUrl}`,
          "                    the sign-up function behind the stack's HTTP API, as AWS Marketplace posts to it",
        ]
      : []),
    `  State as JSON     ${sandbox.url}/api/state`,
    '  Operate it        npx marketplace-bridge doctor --sandbox   (then status, dead-letters, ...; --help lists all)',
    '',
    '  Functions (from the synthesized template):',
    ...functions,
    '',
    '  Local services:',
    ...serviceLines,
    '',
    `  Simulated clock: ${clockText}`,
    ...(sandbox.warnings.length > 0
      ? ['', '  Notes:', ...sandbox.warnings.map((warning) => `    - ${warning}`)]
      : []),
    '',
    `${values.quiet ? '' : 'Handler logs follow (--quiet hides them). '}Press Ctrl-C to stop.`,
    '',
  ];
  console.log(lines.join('\n'));

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      console.log('\nStopping the sandbox…');
      Promise.all([operator.close(), sandbox.close()]).then(
        () => {
          console.log('Stopped.');
          resolve();
        },
        (error: unknown) => {
          console.error(error);
          resolve();
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
