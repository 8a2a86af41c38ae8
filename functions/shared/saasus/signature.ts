import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The SAASUSSIGV1 request signature SaaSus requires on every server-to-server call:
 * `HMAC-SHA256(secretKey, timestamp + apiKey + METHOD + host[:port]/path[?query] + body)` in lowercase
 * hex, where the timestamp is the UTC minute as `YYYYMMDDHHmm`. The target and body must be the exact
 * bytes that go on the wire, so callers sign the final URL and serialized body.
 */

export interface SaasusCredentials {
  readonly saasId: string;
  readonly apiKey: string;
  readonly secretKey: string;
}

export interface SignatureInput {
  readonly method: string;
  /** The full request URL (`https://api.saasus.io/v1/auth/userinfo?token=...`). */
  readonly url: string | URL;
  /** The request body exactly as sent; empty or omitted when there is none. */
  readonly body?: string;
}

const SCHEME = 'SAASUSSIGV1';

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** The UTC minute of `date` as `YYYYMMDDHHmm`. */
export const signatureTimestamp = (date: Date): string =>
  `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
  `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}`;

/**
 * `host[:port]` + path + `?query` (when present): the URL without scheme, `//` and fragment. Parsing
 * with WHATWG `URL` normalizes the same way `fetch` does, so this is the target `fetch` puts on the wire.
 */
export const signatureTarget = (url: string | URL): string => {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.host}${parsed.pathname}${parsed.search}`;
};

/** The string the HMAC is computed over. */
export const stringToSign = (input: SignatureInput & { apiKey: string; timestamp: string }): string =>
  `${input.timestamp}${input.apiKey}${input.method.toUpperCase()}${signatureTarget(input.url)}${input.body ?? ''}`;

const hmacHex = (secretKey: string, message: string) =>
  createHmac('sha256', secretKey).update(message, 'utf8').digest('hex');

export const authorizationHeader = (signatureHex: string, saasId: string, apiKey: string): string =>
  `${SCHEME} Sig=${signatureHex}, SaaSID=${saasId}, APIKey=${apiKey}`;

/** The `Authorization` header value for a request sent at `now`. Pure: same inputs, same header. */
export const signSaasusRequest = (
  input: SignatureInput & SaasusCredentials & { readonly now: Date },
): string => {
  const timestamp = signatureTimestamp(input.now);
  const signature = hmacHex(input.secretKey, stringToSign({ ...input, timestamp }));
  return authorizationHeader(signature, input.saasId, input.apiKey);
};

export interface ParsedAuthorization {
  readonly signature: string;
  readonly saasId: string;
  readonly apiKey: string;
}

const HEADER_PATTERN = /^SAASUSSIGV1 Sig=([0-9a-f]{64}), SaaSID=([^,\s]+), APIKey=([^,\s]+)$/;

/** Splits a SAASUSSIGV1 header into its parts, or undefined when it is not one. */
export const parseAuthorizationHeader = (header: string): ParsedAuthorization | undefined => {
  const match = HEADER_PATTERN.exec(header.trim());
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { signature: match[1], saasId: match[2], apiKey: match[3] };
};

export type SignatureVerification =
  | { readonly valid: true; readonly saasId: string; readonly apiKey: string }
  | {
      readonly valid: false;
      readonly reason: 'missing' | 'malformed' | 'unknown-credentials' | 'stale-timestamp' | 'mismatch';
      /** Safe to return to the caller: names what failed, never a key or the expected signature. */
      readonly message: string;
    };

const MINUTE_MS = 60_000;
/** How far back and ahead a failed signature is re-checked, only to tell "stale" from "wrong". */
const DIAGNOSTIC_WINDOW_MINUTES = 60;

const sameHex = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * Verifies a SAASUSSIGV1 header against the request as received. The timestamp is not sent, so the
 * signature is recomputed for every minute within `maxSkewMinutes` (default 1) of `now`. When that
 * fails, a wider window is tried only to report a clock problem as `stale-timestamp`.
 */
export const verifySaasusSignature = (
  input: SignatureInput & {
    readonly authorization: string | undefined;
    readonly credentials: SaasusCredentials;
    readonly now: Date;
    readonly maxSkewMinutes?: number;
  },
): SignatureVerification => {
  if (!input.authorization) {
    return { valid: false, reason: 'missing', message: 'missing Authorization header' };
  }
  const parsed = parseAuthorizationHeader(input.authorization);
  if (!parsed) {
    return {
      valid: false,
      reason: 'malformed',
      message: 'Authorization header is not "SAASUSSIGV1 Sig=<hex>, SaaSID=<id>, APIKey=<key>"',
    };
  }
  if (parsed.saasId !== input.credentials.saasId || parsed.apiKey !== input.credentials.apiKey) {
    return { valid: false, reason: 'unknown-credentials', message: 'unknown SaaS ID or API key' };
  }
  const signatureAt = (offsetMinutes: number) =>
    hmacHex(
      input.credentials.secretKey,
      stringToSign({
        ...input,
        apiKey: parsed.apiKey,
        timestamp: signatureTimestamp(new Date(input.now.getTime() + offsetMinutes * MINUTE_MS)),
      }),
    );
  const maxSkew = input.maxSkewMinutes ?? 1;
  for (let offset = -maxSkew; offset <= maxSkew; offset++) {
    if (sameHex(signatureAt(offset), parsed.signature)) {
      return { valid: true, saasId: parsed.saasId, apiKey: parsed.apiKey };
    }
  }
  for (let distance = maxSkew + 1; distance <= DIAGNOSTIC_WINDOW_MINUTES; distance++) {
    if (
      sameHex(signatureAt(-distance), parsed.signature) ||
      sameHex(signatureAt(distance), parsed.signature)
    ) {
      return {
        valid: false,
        reason: 'stale-timestamp',
        message: `signature timestamp is more than ${maxSkew} minute(s) off the server clock`,
      };
    }
  }
  return {
    valid: false,
    reason: 'mismatch',
    message: 'signature does not match the request (method, host, path, query and body are signed)',
  };
};
