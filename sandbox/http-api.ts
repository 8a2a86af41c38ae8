import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { FunctionHost } from './lambda/host.js';
import type { HttpApiModel, HttpRouteModel } from './template.js';

/**
 * An HTTP API of the template, mounted under a path prefix of the sandbox server: requests become
 * API Gateway payload-v2 events (`rawPath` keeps the prefix; the function learns it from
 * `PUBLIC_BASE_PATH`), the function is invoked synchronously, and its result becomes the response
 * the way API Gateway maps it (status, headers, `cookies` as Set-Cookie, base64 bodies decoded,
 * a non-object result as a 200 JSON body, a function error as 500).
 */

export interface MountedHttpApi {
  readonly api: HttpApiModel;
  /** Path prefix on the sandbox server, e.g. `/fulfillment` (no trailing slash). */
  readonly prefix: string;
}

export interface HttpApiContext {
  readonly account: string;
  readonly host: (functionLogicalId: string) => FunctionHost | undefined;
  readonly now: () => Date;
  /** Page for a function whose handler cannot run yet. */
  readonly unavailablePage: (reason: string) => string;
}

const textTypes = /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript)|[^;]*\+(json|xml))/i;

/** Route keys the way API Gateway picks them: literal paths, then `{param}`, then `{proxy+}`, then `$default`. */
export const matchRoute = (
  routes: readonly HttpRouteModel[],
  method: string,
  path: string,
): { route: HttpRouteModel; pathParameters: Record<string, string> } | undefined => {
  const segments = path.split('/').filter(Boolean);
  let best: { route: HttpRouteModel; pathParameters: Record<string, string>; score: number } | undefined;
  for (const route of routes) {
    if (route.method !== 'ANY' && route.method !== method) continue;
    if (route.path === '$default') {
      if (!best) best = { route, pathParameters: {}, score: -1 };
      continue;
    }
    const parts = route.path.split('/').filter(Boolean);
    const pathParameters: Record<string, string> = {};
    let score = 0;
    let fits = true;
    for (let index = 0; index < parts.length && fits; index++) {
      const part = parts[index] ?? '';
      const greedy = /^\{(.+)\+\}$/.exec(part);
      if (greedy?.[1]) {
        const rest = segments.slice(index);
        fits = index === parts.length - 1 && rest.length > 0;
        pathParameters[greedy[1]] = rest.map(decodeURIComponent).join('/');
        score += 1;
        break;
      }
      const segment = segments[index];
      if (segment === undefined) fits = false;
      else if (/^\{.+\}$/.test(part)) {
        pathParameters[part.slice(1, -1)] = decodeURIComponent(segment);
        score += 10;
      } else if (part === segment) score += 100;
      else fits = false;
    }
    if (fits && !parts.some((part) => part.endsWith('+}')) && parts.length !== segments.length) fits = false;
    if (fits && route.method !== 'ANY') score += 1;
    if (fits && (!best || score > best.score)) best = { route, pathParameters, score };
  }
  return best ? { route: best.route, pathParameters: best.pathParameters } : undefined;
};

const requestTime = (date: Date) => {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
};

/** The payload-v2 event API Gateway would build for a request. */
export const toPayloadV2Event = (
  request: IncomingMessage,
  body: Buffer,
  match: { route: HttpRouteModel; pathParameters: Record<string, string> },
  context: { account: string; apiId: string; now: Date },
): APIGatewayProxyEventV2 => {
  const url = new URL(request.url ?? '/', 'http://sandbox');
  const headers: Record<string, string> = {};
  let cookies: string[] = [];
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const joined = Array.isArray(value) ? value.join(',') : value;
    if (name === 'cookie') cookies = joined.split(/;\s*/).filter(Boolean);
    else headers[name.toLowerCase()] = joined;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const contentType = headers['content-type'] ?? '';
  const isText = body.length === 0 || textTypes.test(contentType);
  const method = (request.method ?? 'GET').toUpperCase();
  const domainName = headers.host ?? 'localhost';
  return {
    version: '2.0',
    routeKey: match.route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: context.account,
      apiId: context.apiId,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: match.route.routeKey,
      stage: '$default',
      time: requestTime(context.now),
      timeEpoch: context.now.getTime(),
    },
    ...(Object.keys(match.pathParameters).length > 0 ? { pathParameters: match.pathParameters } : {}),
    ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: !isText,
  };
};

interface NormalizedResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly cookies: string[];
  readonly body: Buffer;
}

/** How API Gateway (payload v2) turns a function result into a response. */
export const normalizeResult = (result: unknown): NormalizedResult => {
  const isStructured = typeof result === 'object' && result !== null && 'statusCode' in result;
  if (!isStructured) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      cookies: [],
      body: Buffer.from(body),
    };
  }
  const structured = result as {
    statusCode?: unknown;
    headers?: Record<string, unknown>;
    multiValueHeaders?: Record<string, unknown[]>;
    cookies?: unknown[];
    body?: unknown;
    isBase64Encoded?: unknown;
  };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  for (const [name, values] of Object.entries(structured.multiValueHeaders ?? {})) {
    headers[name.toLowerCase()] = values.map(String).join(',');
  }
  const text =
    typeof structured.body === 'string'
      ? structured.body
      : structured.body === undefined
        ? ''
        : JSON.stringify(structured.body);
  return {
    statusCode: Number(structured.statusCode) || 200,
    headers,
    cookies: (structured.cookies ?? []).map(String),
    body: structured.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text),
  };
};

const sendPlain = (response: ServerResponse, status: number, contentType: string, body: string) => {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
};

/** Serves one request to a mounted HTTP API. */
export const serveHttpApi = async (
  mount: MountedHttpApi,
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
  context: HttpApiContext,
): Promise<void> => {
  const url = new URL(request.url ?? '/', 'http://sandbox');
  const routePath = url.pathname.slice(mount.prefix.length) || '/';
  const method = (request.method ?? 'GET').toUpperCase();
  const match = matchRoute(mount.api.routes, method, routePath);
  if (!match) return sendPlain(response, 404, 'application/json', '{"message":"Not Found"}');
  const host = match.route.functionLogicalId ? context.host(match.route.functionLogicalId) : undefined;
  const availability = host?.availability ?? {
    available: false as const,
    reason: 'the route has no Lambda integration',
  };
  if (!host || (!availability.available && availability.reason.endsWith('does not exist yet'))) {
    return sendPlain(
      response,
      503,
      'text/html; charset=utf-8',
      context.unavailablePage(availability.available ? '' : availability.reason),
    );
  }
  const event = toPayloadV2Event(request, body, match, {
    account: context.account,
    apiId: mount.api.logicalId,
    now: context.now(),
  });
  const outcome = await host.invoke(event, `http ${method} ${url.pathname}`);
  if (!outcome.ok) return sendPlain(response, 500, 'application/json', '{"message":"Internal Server Error"}');
  const result = normalizeResult(outcome.result);
  response.statusCode = result.statusCode;
  for (const [name, value] of Object.entries(result.headers)) response.setHeader(name, value);
  if (result.cookies.length > 0) response.setHeader('set-cookie', result.cookies);
  response.end(result.body);
};
