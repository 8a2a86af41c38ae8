import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  parseAuthorizationHeader,
  signatureTarget,
  signatureTimestamp,
  signSaasusRequest,
  stringToSign,
  verifySaasusSignature,
} from '#shared/saasus/signature';

const vectorsFile = z.object({
  vectors: z
    .array(
      z.object({
        name: z.string(),
        timestamp: z.string().regex(/^\d{12}$/),
        secretKey: z.string(),
        apiKey: z.string(),
        saasId: z.string(),
        method: z.string(),
        url: z.string(),
        body: z.string(),
        signedString: z.string(),
        authorization: z.string(),
      }),
    )
    .length(4),
});

const { vectors } = vectorsFile.parse(
  JSON.parse(readFileSync('../shared/reference/saasus/signature-test-vectors.json', 'utf8')),
);

/** `YYYYMMDDHHmm` → a Date inside that minute (`secondsIntoMinute` past it). */
const dateOf = (timestamp: string, secondsIntoMinute = 0) =>
  new Date(
    Date.UTC(
      Number(timestamp.slice(0, 4)),
      Number(timestamp.slice(4, 6)) - 1,
      Number(timestamp.slice(6, 8)),
      Number(timestamp.slice(8, 10)),
      Number(timestamp.slice(10, 12)),
      secondsIntoMinute,
    ),
  );

describe('SAASUSSIGV1 signing', () => {
  it.each(vectors)('reproduces vector "$name"', (vector) => {
    expect(stringToSign({ ...vector, timestamp: vector.timestamp })).toBe(vector.signedString);
    for (const seconds of [0, 59]) {
      expect(
        signSaasusRequest({
          method: vector.method,
          url: vector.url,
          body: vector.body,
          apiKey: vector.apiKey,
          secretKey: vector.secretKey,
          saasId: vector.saasId,
          now: dateOf(vector.timestamp, seconds),
        }),
      ).toBe(vector.authorization);
    }
  });

  it('formats the UTC minute as YYYYMMDDHHmm', () => {
    expect(signatureTimestamp(new Date('2025-01-02T15:04:59.999Z'))).toBe('202501021504');
    expect(signatureTimestamp(new Date('2025-12-31T23:59:00+09:00'))).toBe('202512311459');
  });

  it('signs host with port, path and query, but not scheme or fragment', () => {
    expect(signatureTarget('http://127.0.0.1:4010/v1/auth/userinfo?token=a.b#frag')).toBe(
      '127.0.0.1:4010/v1/auth/userinfo?token=a.b',
    );
    expect(signatureTarget('https://api.saasus.io:443/v1/pricing/plans')).toBe(
      'api.saasus.io/v1/pricing/plans',
    );
  });

  it('treats a missing body as the empty string and upper-cases the method', () => {
    const base = { url: 'https://api.saasus.io/v1/auth/userinfo', apiKey: 'k', secretKey: 's', saasId: 'id' };
    const now = new Date('2021-09-01T12:34:00Z');
    expect(signSaasusRequest({ ...base, method: 'get', now })).toBe(
      signSaasusRequest({ ...base, method: 'GET', body: '', now }),
    );
  });
});

describe('SAASUSSIGV1 verification', () => {
  const credentials = { saasId: 'saas-1', apiKey: 'api-key-1', secretKey: 'secret-key-1' };
  const request = { method: 'PUT', url: 'http://127.0.0.1:9/v1/x?y=1', body: '{"a":1}' };
  const signedAt = new Date('2026-03-01T10:00:30Z');
  const authorization = signSaasusRequest({ ...request, ...credentials, now: signedAt });

  it('parses the header parts', () => {
    expect(parseAuthorizationHeader(authorization)).toEqual({
      signature: expect.stringMatching(/^[0-9a-f]{64}$/),
      saasId: 'saas-1',
      apiKey: 'api-key-1',
    });
    expect(parseAuthorizationHeader('Bearer abc')).toBeUndefined();
  });

  it('accepts a signature made up to one minute before or after the server clock', () => {
    for (const offsetMs of [-60_000, 0, 60_000]) {
      const now = new Date(signedAt.getTime() + offsetMs);
      expect(verifySaasusSignature({ ...request, authorization, credentials, now })).toMatchObject({
        valid: true,
      });
    }
  });

  it('reports a signature from more than a minute away as a stale timestamp', () => {
    const now = new Date(signedAt.getTime() + 3 * 60_000);
    expect(verifySaasusSignature({ ...request, authorization, credentials, now })).toMatchObject({
      valid: false,
      reason: 'stale-timestamp',
    });
  });

  it('rejects a changed body, path or method', () => {
    for (const changed of [
      { ...request, body: '{"a":2}' },
      { ...request, url: 'http://127.0.0.1:9/v1/x?y=2' },
      { ...request, method: 'POST' },
    ]) {
      expect(verifySaasusSignature({ ...changed, authorization, credentials, now: signedAt })).toMatchObject({
        valid: false,
        reason: 'mismatch',
      });
    }
  });

  it('rejects a missing, malformed or foreign header without echoing any key', () => {
    const results = [
      verifySaasusSignature({ ...request, authorization: undefined, credentials, now: signedAt }),
      verifySaasusSignature({ ...request, authorization: 'SAASUSSIGV1 Sig=zz', credentials, now: signedAt }),
      verifySaasusSignature({
        ...request,
        authorization,
        credentials: { ...credentials, apiKey: 'another-key' },
        now: signedAt,
      }),
    ];
    expect(results.map((result) => (result.valid ? 'valid' : result.reason))).toEqual([
      'missing',
      'malformed',
      'unknown-credentials',
    ]);
    for (const result of results) {
      expect(JSON.stringify(result)).not.toMatch(/secret-key-1|api-key-1|another-key/);
    }
  });
});
