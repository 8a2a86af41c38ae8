import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { now } from '#shared/clock';

/**
 * A handler for exercising the sandbox's wiring (its own tests use it in small stacks): it reports
 * what it was given and what it sees, fails when asked to, and can call the local services through
 * the AWS SDK with the environment the sandbox set.
 *
 * - SQS batches: every record whose body contains "fail" is reported as a batch item failure.
 * - API Gateway payload-v2 events: answers with the request as it arrived.
 * - `{ fail: true }` or `detail.fail`: throws.
 * - `action`: `sqs-send` (body to QUEUE_URL), `read-secret` (SECRET_NAME), `put-event` (BUS).
 */

type ProbeEvent = {
  Records?: { messageId: string; body: string }[];
  version?: string;
  requestContext?: { http?: { method?: string } };
  rawPath?: string;
  rawQueryString?: string;
  cookies?: string[];
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  fail?: boolean;
  detail?: { fail?: boolean };
  action?: string;
  body_?: string;
};

const seen = () => ({
  now: now().toISOString(),
  env: {
    TABLE: process.env.TABLE,
    QUEUE_URL: process.env.QUEUE_URL,
    SECRET_NAME: process.env.SECRET_NAME,
    BUS: process.env.BUS,
    PUBLIC_BASE_PATH: process.env.PUBLIC_BASE_PATH,
    POWERTOOLS_SERVICE_NAME: process.env.POWERTOOLS_SERVICE_NAME,
  },
});

export const handler = async (event: ProbeEvent) => {
  if (Array.isArray(event.Records)) {
    return {
      batchItemFailures: event.Records.filter((record) => record.body.includes('fail')).map((record) => ({
        itemIdentifier: record.messageId,
      })),
    };
  }
  if (event.version === '2.0' && event.requestContext?.http) {
    return {
      statusCode: 201,
      headers: { 'content-type': 'application/json', 'x-probe': 'yes' },
      cookies: ['probe=1; Path=/', 'second=2; Path=/'],
      body: JSON.stringify({
        method: event.requestContext.http.method,
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString,
        cookies: event.cookies ?? [],
        contentType: event.headers?.['content-type'],
        body: event.body,
        isBase64Encoded: event.isBase64Encoded,
        ...seen(),
      }),
    };
  }
  if (event.fail || event.detail?.fail) throw new Error('The probe was asked to fail');
  if (event.action === 'sqs-send') {
    const output = await new SQSClient({}).send(
      new SendMessageCommand({
        QueueUrl: process.env.QUEUE_URL,
        MessageBody: event.body_ ?? 'from the probe',
      }),
    );
    return { messageId: output.MessageId, ...seen() };
  }
  if (event.action === 'read-secret') {
    const output = await new SecretsManagerClient({}).send(
      new GetSecretValueCommand({ SecretId: process.env.SECRET_NAME }),
    );
    return { secret: JSON.parse(output.SecretString ?? '{}') as unknown, ...seen() };
  }
  if (event.action === 'put-event') {
    const output = await new EventBridgeClient({}).send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: process.env.BUS,
            Source: 'probe',
            DetailType: 'Probe Said Hello',
            Detail: '{"hello":true}',
          },
        ],
      }),
    );
    return { failed: output.FailedEntryCount, ...seen() };
  }
  return { event, ...seen() };
};
