import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type RunningServer, sendJson, startServer } from './http.js';

/**
 * The control-plane calls an operator's tools make, for the local world: CloudFormation
 * `DescribeStacks` (AWS Query protocol: a form-encoded POST, an XML answer) and Lambda `Invoke`
 * (REST JSON, `POST /2015-03-31/functions/<name>/invocations`). Point the SDK at it with
 * `AWS_ENDPOINT_URL_CLOUDFORMATION` and `AWS_ENDPOINT_URL_LAMBDA`.
 */

export interface LocalStack {
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
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

export const startControlPlane = (options: ControlPlaneOptions): Promise<RunningServer> =>
  startServer((request, body, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
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
