/**
 * Reading what a browser POSTs to us. AWS Marketplace makes the buyer's browser submit a form
 * with `x-amzn-marketplace-token` (and `x-amzn-marketplace-offer-type=free-trial` for trials);
 * the docs never name the content type, so urlencoded, multipart and base64-encoded bodies
 * (Function URL / HTTP API) are all accepted. Everything else is a clear 400, and nothing here
 * ever echoes or logs the token.
 */

export const TOKEN_FIELD = 'x-amzn-marketplace-token';
export const OFFER_TYPE_FIELD = 'x-amzn-marketplace-offer-type';
/** Larger bodies are rejected before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Registration tokens seen in practice are a few hundred characters. */
export const MAX_TOKEN_LENGTH = 4096;

export type FormRequestProblem =
  | 'missing-token'
  | 'empty-token'
  | 'oversized'
  | 'malformed'
  | 'unsupported-media-type';

export class FormRequestError extends Error {
  override readonly name = 'FormRequestError';
  constructor(readonly problem: FormRequestProblem) {
    super(`Bad form request: ${problem}`);
  }
}

export interface HttpBody {
  body?: string | undefined;
  isBase64Encoded?: boolean | undefined;
  /** Lower-cased header names (payload v2 events already are). */
  headers?: Record<string, string | undefined> | undefined;
}

const decodeBody = ({ body, isBase64Encoded }: HttpBody): string => {
  if (!body) return '';
  if (body.length > (isBase64Encoded ? (MAX_BODY_BYTES * 4) / 3 + 4 : MAX_BODY_BYTES)) {
    throw new FormRequestError('oversized');
  }
  if (!isBase64Encoded) return body;
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(body)) throw new FormRequestError('malformed');
  return Buffer.from(body, 'base64').toString('utf8');
};

const parseUrlEncoded = (text: string): Map<string, string> => {
  const fields = new Map<string, string>();
  try {
    for (const [name, value] of new URLSearchParams(text)) {
      if (!fields.has(name)) fields.set(name, value);
    }
  } catch {
    throw new FormRequestError('malformed');
  }
  return fields;
};

/** The platform's multipart parser (the one behind fetch's `Response.formData()`); file parts are ignored. */
const parseMultipart = async (text: string, contentType: string): Promise<Map<string, string>> => {
  let form: FormData;
  try {
    form = await new Response(text, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new FormRequestError('malformed');
  }
  const fields = new Map<string, string>();
  for (const [name, value] of form) {
    if (typeof value === 'string' && !fields.has(name)) fields.set(name, value);
  }
  return fields;
};

/** Parses a urlencoded or multipart form body into its fields (first value of each name wins). */
export const parseFormBody = async (request: HttpBody): Promise<Map<string, string>> => {
  const text = decodeBody(request);
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) throw new FormRequestError('oversized');
  const contentType = (request.headers?.['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('multipart/form-data'))
    return parseMultipart(text, request.headers?.['content-type'] ?? '');
  if (
    contentType === '' ||
    contentType.startsWith('application/x-www-form-urlencoded') ||
    contentType.startsWith('text/plain')
  ) {
    return parseUrlEncoded(text);
  }
  throw new FormRequestError('unsupported-media-type');
};

export interface FulfillmentRequest {
  token: string;
  freeTrial: boolean;
}

/** Registration tokens are opaque but printable; anything else is not a token AWS produced. */
const TOKEN_PATTERN = /^[A-Za-z0-9+/=_.:~-]+$/;

export const parseFulfillmentRequest = async (request: HttpBody): Promise<FulfillmentRequest> => {
  const fields = await parseFormBody(request);
  const token = fields.get(TOKEN_FIELD);
  if (token === undefined) throw new FormRequestError('missing-token');
  const trimmed = token.trim();
  if (trimmed.length === 0) throw new FormRequestError('empty-token');
  if (trimmed.length > MAX_TOKEN_LENGTH) throw new FormRequestError('oversized');
  if (!TOKEN_PATTERN.test(trimmed)) throw new FormRequestError('malformed');
  return { token: trimmed, freeTrial: fields.get(OFFER_TYPE_FIELD)?.trim() === 'free-trial' };
};
