// One Lambda execution environment: a fresh Node process that imports a bundled handler (the
// path in argv[2]) with the environment its parent gave it, then invokes it on request over IPC,
// one message at a time as the parent sends them. Plain JavaScript, so nothing but Node itself
// runs before the handler's own import. Reports process-relative times (performance.now() counts
// from the start of the process), and its memory: sampled RSS and the OS high-water mark.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const offset = Number(process.env.BENCH_CLOCK_OFFSET_MS ?? '0');
if (offset !== 0) {
  // The business clock of functions/shared/clock.ts, shifted like the emulators' clocks.
  globalThis[Symbol.for('marketplace-bridge.clock')] = () => Date.now() + offset;
}

// process.memoryUsage.rss() reads only the RSS; memoryUsage() also walks the V8 heap, which cost
// the measured handler about a second of CPU per run at this sampling rate.
let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);
sampler.unref();

const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench';
const context = () => {
  const deadline = Date.now() + 900_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
};

const memory = () => ({
  rss: process.memoryUsage().rss,
  peakRss: Math.max(peakRss, process.memoryUsage().rss),
  maxRssOs: process.resourceUsage().maxRSS * 1024,
});

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const send = (message) => new Promise((resolve) => process.send(message, resolve));

const importStarted = performance.now();
let handler;
try {
  const module = await import(pathToFileURL(process.argv[2]).href);
  handler = module.handler;
  if (typeof handler !== 'function') throw new Error(`${process.argv[2]} exports no handler`);
} catch (error) {
  await send({ type: 'failed', error: String(error?.stack ?? error) });
  process.exit(1);
}
await send({ type: 'ready', importStartedMs: importStarted, importedMs: performance.now() });

process.on('message', async (message) => {
  if (message.type === 'invoke') {
    const started = performance.now();
    try {
      const value = await handler(message.event, context());
      await send({
        type: 'result',
        id: message.id,
        ok: true,
        value,
        ms: performance.now() - started,
        at: performance.now(),
        cpuMs: cpuMs(),
      });
    } catch (error) {
      await send({
        type: 'result',
        id: message.id,
        ok: false,
        error: `${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`,
        ms: performance.now() - started,
        at: performance.now(),
        cpuMs: cpuMs(),
      });
    }
  } else if (message.type === 'memory') {
    await send({ type: 'memory', id: message.id, ...memory() });
  } else if (message.type === 'exit') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
