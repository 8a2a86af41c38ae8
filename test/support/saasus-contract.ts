import { readFileSync } from 'node:fs';
import { OpenAPIBackend, type Operation } from 'openapi-backend';
import { parse } from 'yaml';
import type { SaasusExchange } from '#sandbox/emulators/saasus';

/**
 * Checks SaaSus traffic against the official OpenAPI documents, read at test time from `../shared`
 * (never copied into the project): the operation exists, path and query parameters and the request
 * body fit (a body field the spec does not have is an error), the status is one the operation
 * declares, and the response body fits the schema declared for that status.
 */

const specDirectory = new URL(
  '../../../shared/reference/saasus/openapi/saasus-platform-document/',
  import.meta.url,
);
/** The APIs the client calls; a request outside them is an operation that does not exist. */
const documents = ['authapi.yml', 'pricingapi.yml', 'integration.yml'] as const;

type Schema = Record<string, unknown>;

const resolveRef = (document: Schema, ref: string): Schema =>
  ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<Schema>((node, key) => node[key] as Schema, document);

/**
 * A copy of a request body schema with every `$ref` inlined and `additionalProperties: false` on
 * each object that lists its properties and says nothing about others: the client must send only
 * fields the spec has. (The spec leaves objects open, which would let any typo through.)
 */
const closedSchema = (document: Schema, schema: Schema, depth = 0): Schema => {
  if (depth > 20) return schema;
  if (typeof schema.$ref === 'string')
    return closedSchema(document, resolveRef(document, schema.$ref), depth + 1);
  const copy: Schema = { ...schema };
  if (copy.properties && typeof copy.properties === 'object') {
    copy.properties = Object.fromEntries(
      Object.entries(copy.properties as Record<string, Schema>).map(([name, property]) => [
        name,
        closedSchema(document, property, depth + 1),
      ]),
    );
    if (copy.additionalProperties === undefined) copy.additionalProperties = false;
  }
  if (copy.items && typeof copy.items === 'object')
    copy.items = closedSchema(document, copy.items as Schema, depth + 1);
  return copy;
};

/** A copy of a node with every local `$ref` inlined; a reference cycle, should one appear, is left open (`{}`). */
const inlineRefs = (document: Schema, node: unknown, expanding: readonly string[] = []): unknown => {
  if (Array.isArray(node)) return node.map((item) => inlineRefs(document, item, expanding));
  if (!node || typeof node !== 'object') return node;
  const object = node as Schema;
  if (typeof object.$ref === 'string') {
    if (expanding.includes(object.$ref)) return {};
    return inlineRefs(document, resolveRef(document, object.$ref), [...expanding, object.$ref]);
  }
  const discriminator = object.discriminator as
    | { propertyName: string; mapping?: Record<string, string> }
    | undefined;
  if (discriminator?.mapping && object.oneOf) {
    // The branches overlap (objects are open), so plain `oneOf` would reject every valid value: pick
    // the branch by the discriminator, as the document's `discriminator` says.
    const { propertyName, mapping } = discriminator;
    const { discriminator: _, oneOf: __, ...rest } = object;
    return {
      ...(inlineRefs(document, rest, expanding) as Schema),
      required: [propertyName],
      properties: { [propertyName]: { enum: Object.keys(mapping) } },
      allOf: Object.entries(mapping).map(([value, ref]) => ({
        if: { properties: { [propertyName]: { const: value } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
        then: inlineRefs(document, { $ref: ref }, expanding),
      })),
    };
  }
  return Object.fromEntries(
    Object.entries(object).map(([key, value]) => [key, inlineRefs(document, value, expanding)]),
  );
};

const closeRequestBodies = (document: Schema): Schema => {
  for (const item of Object.values(document.paths as Record<string, Record<string, Schema>>)) {
    for (const operation of Object.values(item)) {
      const content = (operation.requestBody as Schema | undefined)?.content as
        | Record<string, Schema>
        | undefined;
      const json = content?.['application/json'];
      if (json?.schema) json.schema = closedSchema(document, json.schema as Schema);
    }
  }
  return document;
};

export interface ContractApi {
  readonly root: string;
  readonly backend: OpenAPIBackend;
}

let loaded: Promise<ContractApi[]> | undefined;

/** The Auth and Pricing documents, parsed and compiled once per test file. */
export const loadSaasusContract = (): Promise<ContractApi[]> => {
  loaded ??= Promise.all(
    documents.map(async (file) => {
      const source = parse(readFileSync(new URL(file, specDirectory), 'utf8')) as Schema;
      const document = { ...source, paths: inlineRefs(source, source.paths) } as Schema;
      const root = new URL((document.servers as { url: string }[])[0]?.url ?? '').pathname;
      const backend = new OpenAPIBackend({
        definition: closeRequestBodies(document) as never,
        apiRoot: root,
        validate: true,
        // quick: the documents put `title` beside `$ref`, which strict OpenAPI 3.0 validation rejects.
        quick: true,
        strict: false,
        ajvOpts: { strict: false, allErrors: true },
      });
      await backend.init();
      return { root, backend };
    }),
  );
  return loaded;
};

const describeErrors = (errors: readonly { instancePath?: string; message?: string }[] | null | undefined) =>
  (errors ?? [])
    .slice(0, 5)
    .map((error) => `${error.instancePath || '(root)'} ${error.message ?? ''}`.trim())
    .join('; ');

const parseBody = (text: string): { ok: true; value: unknown } | { ok: false } => {
  if (text === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};

export interface ExchangeVerdict {
  /** Operation id, when the request names one. */
  readonly operation?: string;
  /** What breaks the contract; empty when the exchange fits. */
  readonly violations: readonly string[];
}

const declaredResponse = (operation: Operation, status: number) => {
  const responses = (operation.responses ?? {}) as Record<string, Schema>;
  return responses[String(status)] ?? responses[`${Math.floor(status / 100)}XX`] ?? responses.default;
};

/**
 * Checks one exchange. An injected fault's answer is the test's choice and the signature check's is
 * undocumented, so for those only the request is checked.
 */
export const checkSaasusExchange = async (exchange: SaasusExchange): Promise<ExchangeVerdict> => {
  const apis = await loadSaasusContract();
  const api = apis.find(({ root }) => exchange.path.startsWith(`${root}/`));
  const label = `${exchange.method} ${exchange.path}`;
  const request = {
    method: exchange.method.toLowerCase(),
    path: exchange.path,
    query: { ...exchange.query },
    headers: { ...exchange.headers },
    body: undefined as unknown,
  };
  const operation = api?.backend.router.matchOperation(request);
  if (!api || !operation) return { violations: [`${label}: no such operation in the SaaSus API documents`] };
  const where = `${operation.operationId} (${label})`;
  const violations: string[] = [];

  const requestBody = parseBody(exchange.requestBody);
  if (!requestBody.ok) violations.push(`${where}: request body is not JSON`);
  else {
    request.body = requestBody.value;
    const verdict = api.backend.validator.validateRequest(request, operation);
    if (!verdict.valid) violations.push(`${where}: request: ${describeErrors(verdict.errors)}`);
  }

  if (exchange.answeredBy === 'operation') {
    const declared = declaredResponse(operation, exchange.status);
    if (!declared) {
      const statuses = Object.keys(operation.responses ?? {}).join(', ');
      violations.push(`${where}: status ${exchange.status} is not declared (declared: ${statuses})`);
    } else {
      const responseBody = parseBody(exchange.responseBody);
      const schema = (declared.content as Record<string, Schema> | undefined)?.['application/json']?.schema;
      if (!responseBody.ok) violations.push(`${where}: response body is not JSON`);
      else if (schema && responseBody.value === undefined) {
        violations.push(`${where}: ${exchange.status} has no body, the spec declares one`);
      } else if (schema) {
        const verdict = api.backend.validator.validateResponse(
          responseBody.value,
          operation,
          exchange.status,
        );
        if (!verdict.valid) {
          violations.push(`${where}: ${exchange.status} response: ${describeErrors(verdict.errors)}`);
        }
      }
    }
  }
  return { operation: operation.operationId, violations };
};

/** Every exchange seen in this test file, checked in the background; `drain` returns the verdicts. */
export const createContractRecorder = () => {
  let pending: Promise<ExchangeVerdict>[] = [];
  const validated = new Set<string>();
  return {
    /** Pass as the emulator's `onExchange`. */
    observe: (exchange: SaasusExchange) => {
      pending.push(checkSaasusExchange(exchange));
    },
    /** Verdicts since the last drain; operations that passed count as validated. */
    drain: async (): Promise<ExchangeVerdict[]> => {
      const verdicts = await Promise.all(pending);
      pending = [];
      for (const verdict of verdicts) {
        if (verdict.operation && verdict.violations.length === 0) validated.add(verdict.operation);
      }
      return verdicts;
    },
    validatedOperations: (): ReadonlySet<string> => validated,
  };
};

/** The SaaSus contract recorder of this test file (one per worker module graph). */
export const saasusContract = createContractRecorder();

/** Throws with every violation seen since the last call. */
export const assertSaasusContract = async (): Promise<void> => {
  const violations = (await saasusContract.drain()).flatMap((verdict) => verdict.violations);
  if (violations.length > 0) {
    throw new Error(`SaaSus contract broken:\n${[...new Set(violations)].join('\n')}`);
  }
};
