import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type RunningServer, sendJson, startServer } from './http.js';

/**
 * The control-plane calls an operator's tools make, for the local world: CloudFormation
 * `DescribeStacks` (AWS Query protocol: a form-encoded POST, an XML answer), Lambda `Invoke`
 * (REST JSON, `POST /2015-03-31/functions/<name>/invocations`), EventBridge `DescribeEventSource`
 * and `DescribeEventBus` (AWS JSON 1.1) and Marketplace Catalog `DescribeEntity` (REST JSON,
 * `GET /DescribeEntity?catalog=AWSMarketplace&entityId=...`). Point the SDK at it with
 * `AWS_ENDPOINT_URL_CLOUDFORMATION`, `_LAMBDA`, `_EVENTBRIDGE` and `_MARKETPLACE_CATALOG` (the
 * operator's EventBridge calls only; the functions' PutEvents go to the EventBridge emulator).
 */

export interface LocalStack {
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
}

/** A partner event source as EventBridge describes it to the account it was offered to. */
export interface LocalEventSource {
  readonly name: string;
  readonly state: 'ACTIVE' | 'PENDING' | 'DELETED';
}

/** A Marketplace Catalog entity: its type (`SaaSProduct@1.0`) and its details document. */
export interface LocalEntity {
  readonly entityType: string;
  readonly details: Record<string, unknown>;
}

/** What the stand-in knows; tests change it to play a misconfigured account. */
export interface ControlPlaneState {
  readonly eventSources: Map<string, LocalEventSource>;
  /** Event bus name → the partner event source it is attached to (undefined for other buses). */
  readonly eventBuses: Map<string, string | undefined>;
  readonly entities: Map<string, LocalEntity>;
}

export interface ControlPlane extends RunningServer {
  readonly state: ControlPlaneState;
}

export interface ControlPlaneOptions {
  readonly stacks: () => readonly LocalStack[];
  readonly region: string;
  readonly account: string;
  /** Starts an asynchronous invocation; false when no function has that name. */
  readonly invokeAsync: (functionName: string, payload: unknown) => boolean;
}

const xmlEscape = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const cloudFormationNamespace = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

const sendXml = (response: ServerResponse, status: number, body: string): void => {
  response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
  response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
};

const queryError = (response: ServerResponse, status: number, code: string, message: string): void =>
  sendXml(
    response,
    status,
    `<ErrorResponse xmlns="${cloudFormationNamespace}"><Error><Type>Sender</Type><Code>${code}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );

const awsJsonError = (response: ServerResponse, status: number, type: string, message: string): void =>
  sendJson(response, status, { __type: type, message }, { 'content-type': 'application/x-amz-json-1.1' });

export const startControlPlane = async (
  options: ControlPlaneOptions,
  initial: Partial<ControlPlaneState> = {},
): Promise<ControlPlane> => {
  const state: ControlPlaneState = {
    eventSources: initial.eventSources ?? new Map(),
    eventBuses: initial.eventBuses ?? new Map(),
    entities: initial.entities ?? new Map(),
  };
  const server = await startServer((request, body, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const target = request.headers['x-amz-target'];
    if (request.method === 'POST' && typeof target === 'string' && target.startsWith('AWSEvents.')) {
      const input = (body === '' ? {} : JSON.parse(body)) as Record<string, unknown>;
      const name = String(input.Name ?? '');
      if (target === 'AWSEvents.DescribeEventSource') {
        const source = state.eventSources.get(name);
        if (!source) {
          awsJsonError(response, 400, 'ResourceNotFoundException', `Event source ${name} does not exist.`);
          return;
        }
        sendJson(response, 200, {
          Name: source.name,
          Arn: `arn:aws:events:${options.region}::event-source/${source.name}`,
          CreatedBy: source.name.split('/').slice(0, 2).join('/'),
          State: source.state,
        });
        return;
      }
      if (target === 'AWSEvents.DescribeEventBus') {
        const busName = name === '' ? 'default' : name;
        if (busName !== 'default' && !state.eventBuses.has(busName)) {
          awsJsonError(response, 400, 'ResourceNotFoundException', `Event bus ${busName} does not exist.`);
          return;
        }
        sendJson(response, 200, {
          Name: busName,
          Arn: `arn:aws:events:${options.region}:${options.account}:event-bus/${busName}`,
        });
        return;
      }
      awsJsonError(response, 400, 'UnknownOperationException', `${target} is not served locally.`);
      return;
    }
    if (request.method === 'GET' && url.pathname === '/DescribeEntity') {
      const entityId = url.searchParams.get('entityId') ?? '';
      const entity = state.entities.get(entityId);
      const headers = { 'x-amzn-errortype': 'ResourceNotFoundException' };
      if (url.searchParams.get('catalog') !== 'AWSMarketplace' || !entity) {
        sendJson(response, 404, { Message: `Entity ${entityId} not found in the catalog.` }, headers);
        return;
      }
      sendJson(response, 200, {
        EntityType: entity.entityType,
        EntityIdentifier: `${entityId}@1`,
        EntityArn: `arn:aws:aws-marketplace:${options.region}:${options.account}:AWSMarketplace/SaaSProduct/${entityId}`,
        LastModifiedDate: '2026-01-01T00:00:00Z',
        Details: JSON.stringify(entity.details),
        DetailsDocument: entity.details,
      });
      return;
    }
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (request.method === 'POST' && invoke) {
      const name = decodeURIComponent(invoke[1] ?? '');
      const type = request.headers['x-amz-invocation-type'] ?? 'RequestResponse';
      if (type !== 'Event') {
        sendJson(
          response,
          400,
          {
            Type: 'User',
            message: 'Only asynchronous invocations (InvocationType Event) are served locally.',
          },
          { 'x-amzn-errortype': 'InvalidParameterValueException' },
        );
        return;
      }
      let payload: unknown;
      try {
        payload = body === '' ? {} : JSON.parse(body);
      } catch {
        sendJson(
          response,
          400,
          { Type: 'User', message: 'Could not parse request body into json' },
          {
            'x-amzn-errortype': 'InvalidRequestContentException',
          },
        );
        return;
      }
      if (!options.invokeAsync(name, payload)) {
        sendJson(
          response,
          404,
          { Type: 'User', message: `Function not found: ${name}` },
          {
            'x-amzn-errortype': 'ResourceNotFoundException',
          },
        );
        return;
      }
      response.writeHead(202, { 'x-amzn-requestid': randomUUID() });
      response.end();
      return;
    }
    if (request.method !== 'POST' || url.pathname !== '/') {
      sendJson(response, 404, {
        message: `No local control-plane operation at ${request.method} ${url.pathname}`,
      });
      return;
    }
    const form = new URLSearchParams(body);
    const action = form.get('Action');
    if (action !== 'DescribeStacks') {
      queryError(
        response,
        400,
        'InvalidAction',
        `The action ${action ?? '(none)'} is not valid for this web service.`,
      );
      return;
    }
    const wanted = form.get('StackName');
    const stacks = options.stacks().filter((stack) => wanted === null || stack.stackName === wanted);
    if (wanted !== null && stacks.length === 0) {
      queryError(response, 400, 'ValidationError', `Stack with id ${wanted} does not exist`);
      return;
    }
    const members = stacks
      .map((stack) => {
        const outputs = Object.entries(stack.outputs)
          .map(
            ([key, value]) =>
              `<member><OutputKey>${xmlEscape(key)}</OutputKey><OutputValue>${xmlEscape(value)}</OutputValue></member>`,
          )
          .join('');
        const stackId = `arn:aws:cloudformation:${options.region}:${options.account}:stack/${stack.stackName}/local`;
        return (
          `<member><StackName>${xmlEscape(stack.stackName)}</StackName><StackId>${stackId}</StackId>` +
          `<CreationTime>2026-01-01T00:00:00.000Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>` +
          `<Outputs>${outputs}</Outputs></member>`
        );
      })
      .join('');
    sendXml(
      response,
      200,
      `<DescribeStacksResponse xmlns="${cloudFormationNamespace}"><DescribeStacksResult><Stacks>${members}</Stacks>` +
        `</DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    );
  });
  return { ...server, state };
};
