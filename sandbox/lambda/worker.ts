import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { installClock } from '#shared/clock';
import { SimulatedClock } from '../clock.js';
import { type FromWorker, serializeError, type ToWorker, type WorkerSetup } from './protocol.js';

/**
 * One warm "execution environment" of a function: imports the handler module once (module-scope
 * clients read this thread's own `process.env`, set by the sandbox from the template), then runs
 * one invocation at a time, as Lambda does.
 */

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error('sandbox/lambda/worker.ts must run in a worker thread');
const post = (message: FromWorker) => port.postMessage(message);

const clock = SimulatedClock.attach(setup.clock);
installClock(() => clock.nowMs());

type Handler = (event: unknown, context: unknown) => unknown;

let handler: Handler | undefined;
try {
  const module = (await import(pathToFileURL(setup.entryPath).href)) as Record<string, unknown>;
  const exported = module[setup.handlerExport];
  if (typeof exported !== 'function') {
    throw Object.assign(new Error(`${setup.entryPath} does not export a function "${setup.handlerExport}"`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
  handler = exported as Handler;
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'init-error', error: serializeError(error) });
}

port.on('message', async (message: ToWorker) => {
  if (message.type !== 'invoke' || !handler) return;
  const context = {
    functionName: setup.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: setup.functionArn,
    memoryLimitInMB: String(setup.memorySize),
    awsRequestId: message.requestId,
    logGroupName: `/aws/lambda/${setup.functionName}`,
    logStreamName: `sandbox/[$LATEST]${message.requestId.replaceAll('-', '')}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
  try {
    const result = await handler(message.event, context);
    post({ type: 'result', id: message.id, ok: true, payload: JSON.stringify(result ?? null) });
  } catch (error) {
    post({ type: 'result', id: message.id, ok: false, error: serializeError(error) });
  }
});
