import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running emulator: its base URL (`http://127.0.0.1:<port>`) and how to stop it. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

export type RequestHandler = (
  request: IncomingMessage,
  body: string,
  response: ServerResponse,
) => Promise<void> | void;

export const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

export const sendJson = (
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void => {
  const payload = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(payload);
};

/** Starts an HTTP server on loopback (port 0 = any free port). Handler errors become 500s. */
export const startServer = async (
  handler: RequestHandler,
  port = 0,
  host = '127.0.0.1',
): Promise<RunningServer> => {
  const server = createServer((request, response) => {
    readBody(request)
      .then((body) => handler(request, body, response))
      .catch((error: unknown) => {
        if (!response.headersSent) sendJson(response, 500, { message: String(error) });
        else response.end();
      });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
};

/** An AWS JSON 1.1 service error, as the SDK deserializes it (`__type` names the exception). */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type AwsJsonOperations = Record<
  string,
  (input: Record<string, unknown>) => Promise<unknown> | unknown
>;

/**
 * A handler for an AWS JSON 1.1 service: dispatches on `X-Amz-Target: <Service>.<Operation>`.
 * Request signatures are not verified (the SDK signs with whatever credentials it has).
 */
export const awsJsonHandler =
  (servicePrefix: string, operations: AwsJsonOperations): RequestHandler =>
  async (request, body, response) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operationName = target.startsWith(`${servicePrefix}.`)
      ? target.slice(servicePrefix.length + 1)
      : '';
    const operation = operations[operationName];
    const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() };
    if (request.method !== 'POST' || !operation) {
      sendJson(
        response,
        400,
        { __type: 'UnknownOperationException', message: `Unknown operation ${target}` },
        headers,
      );
      return;
    }
    try {
      const input = body.length > 0 ? (JSON.parse(body) as Record<string, unknown>) : {};
      sendJson(response, 200, (await operation(input)) ?? {}, headers);
    } catch (error) {
      if (error instanceof AwsJsonError) {
        sendJson(response, error.status, { __type: error.type, message: error.message }, headers);
      } else {
        sendJson(response, 500, { __type: 'InternalServiceErrorException', message: String(error) }, headers);
      }
    }
  };
