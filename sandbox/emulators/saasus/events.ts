import { randomUUID } from 'node:crypto';

/**
 * The EventBridge partner event SaaSus sends after an API call that changed something, in the
 * current (2026-05) published form: `detail.event` is a JSON string holding the API-log record,
 * whose `request_body` and `response_body` are JSON strings again.
 */

export interface SaasusPartnerEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'api_call';
  /** `aws.partner/saasus.io/<id>/event`. */
  readonly source: string;
  readonly account: string;
  /** ISO-8601 UTC without milliseconds. */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: {
    readonly event_type: string;
    /** JSON-encoded API-log record. */
    readonly event: string;
    /** The `X-SaaSus-Trace-Id` of the call. */
    readonly trace_id: string;
  };
}

export interface ApiCall {
  readonly eventType: string;
  readonly time: Date;
  readonly traceId: string;
  readonly method: string;
  /** Path without the query string. */
  readonly uri: string;
  readonly status: number;
  readonly ipAddress: string;
  readonly referer: string;
  readonly saasId: string;
  readonly apiKey: string;
  /** Raw request body; `''` when there was none. */
  readonly requestBody: string;
  /** Response body as sent; `''` when there was none. */
  readonly responseBody: string;
}

export interface EventEnvelope {
  readonly source: string;
  readonly account: string;
  readonly region: string;
}

const LOG_RETENTION_YEARS = 7;

const isoSeconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Passwords replaced by `xxxxx`, as in the published CreateSaasUser sample. Whether real events mask
 * them is undocumented; the emulator does, so sandbox logs of events never carry one.
 */
export const maskPasswords = (body: string): string => {
  if (body === '') return body;
  try {
    return JSON.stringify(JSON.parse(body), (key, value: unknown) =>
      key === 'password' && typeof value === 'string' ? 'xxxxx' : value,
    );
  } catch {
    return body;
  }
};

export const partnerEvent = (call: ApiCall, envelope: EventEnvelope): SaasusPartnerEvent => {
  const ttl = new Date(call.time);
  ttl.setUTCFullYear(ttl.getUTCFullYear() + LOG_RETENTION_YEARS);
  const record = {
    log_id: randomUUID(),
    date_time: isoSeconds(call.time),
    date: call.time.toISOString().slice(0, 10),
    ttl: isoSeconds(ttl),
    http_status: String(call.status),
    uri: call.uri,
    ip_address: call.ipAddress,
    referer: call.referer,
    request_method: call.method,
    saas_id: call.saasId,
    api_key: call.apiKey,
    request_body: maskPasswords(call.requestBody),
    response_body: maskPasswords(call.responseBody),
  };
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'api_call',
    source: envelope.source,
    account: envelope.account,
    time: isoSeconds(call.time),
    region: envelope.region,
    resources: [],
    detail: { event_type: call.eventType, event: JSON.stringify(record), trace_id: call.traceId },
  };
};
