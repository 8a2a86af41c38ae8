import { BlockList, isIP } from 'node:net';

/**
 * EventBridge event-pattern matching (content filtering), so the sandbox routes events with the
 * same patterns `cdk deploy` puts on the rules.
 *
 * Semantics, as EventBridge documents them:
 * - A pattern is a JSON object whose structure mirrors the event. Every field named in the pattern
 *   must match (AND); the values listed for one field are alternatives (OR).
 * - Leaf values are arrays of exact values (string, number, boolean, null) and operator objects:
 *   `prefix`, `suffix` (both also with `equals-ignore-case`), `equals-ignore-case`, `wildcard`,
 *   `anything-but` (a value, a list of strings or of numbers, or `prefix`/`suffix`/
 *   `equals-ignore-case`/`wildcard`), `numeric` (`<`, `<=`, `=`, `>`, `>=`, at most one lower and
 *   one upper bound), `exists` and `cidr`. `$or` takes a list of sub-patterns at any level.
 * - When the event holds an array, the field matches if any element does. For an array of objects
 *   the fields of one nested pattern must all match within the same element.
 * - Only leaves count as present: `exists: true` needs a scalar value (null included) at the path,
 *   and `exists: false` holds where there is none (a missing field, an empty array or an object).
 * - Matching is type-strict: the string "5" does not match the number 5. Numbers compare by value.
 * - `anything-but` needs a present leaf that the inner condition does not match; a missing field
 *   never matches it.
 *
 * Invalid patterns (unknown operators, empty lists, wrong operand types) throw EventPatternError
 * when compiled, as PutRule rejects them.
 */

export class EventPatternError extends Error {
  override readonly name = 'EventPatternError';
}

type Leaf = string | number | boolean | null;

type Matcher =
  | { readonly kind: 'exists'; readonly exists: boolean }
  | { readonly kind: 'test'; readonly test: (value: Leaf) => boolean };

type Field =
  | { readonly key: string; readonly node: PatternNode }
  | { readonly key: string; readonly matchers: readonly Matcher[] };

interface PatternNode {
  readonly fields: readonly Field[];
  /** Each `$or` at this level: at least one alternative must match. */
  readonly alternatives: readonly (readonly PatternNode[])[];
}

export type EventPatternMatcher = (event: unknown) => boolean;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const describe = (value: unknown) => JSON.stringify(value) ?? String(value);

const fold = (text: string) => text.toUpperCase().toLowerCase();

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

const fail = (path: string, message: string): never => {
  throw new EventPatternError(`${path || 'pattern'}: ${message}`);
};

const stringOperand = (operand: unknown, path: string, operator: string): string => {
  if (typeof operand !== 'string') fail(path, `"${operator}" expects a string, got ${describe(operand)}`);
  return operand as string;
};

/** `"text"` or `{ "equals-ignore-case": "text" }`, as `prefix` and `suffix` accept. */
const affixOperand = (operand: unknown, path: string, operator: string) => {
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length !== 1 || keys[0] !== 'equals-ignore-case') {
      fail(path, `"${operator}" accepts a string or { "equals-ignore-case": string }`);
    }
    return {
      text: stringOperand(operand['equals-ignore-case'], path, `${operator}.equals-ignore-case`),
      ignoreCase: true,
    };
  }
  return { text: stringOperand(operand, path, operator), ignoreCase: false };
};

const prefixTest = (operand: unknown, path: string) => {
  const { text, ignoreCase } = affixOperand(operand, path, 'prefix');
  const wanted = ignoreCase ? fold(text) : text;
  return (value: Leaf) => typeof value === 'string' && (ignoreCase ? fold(value) : value).startsWith(wanted);
};

const suffixTest = (operand: unknown, path: string) => {
  const { text, ignoreCase } = affixOperand(operand, path, 'suffix');
  const wanted = ignoreCase ? fold(text) : text;
  return (value: Leaf) => typeof value === 'string' && (ignoreCase ? fold(value) : value).endsWith(wanted);
};

const ignoreCaseTest = (operand: unknown, path: string) => {
  const wanted = fold(stringOperand(operand, path, 'equals-ignore-case'));
  return (value: Leaf) => typeof value === 'string' && fold(value) === wanted;
};

/** `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash. */
const wildcardTest = (operand: unknown, path: string) => {
  const pattern = stringOperand(operand, path, 'wildcard');
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index] ?? '';
    if (char === '\\') {
      const next = pattern[index + 1];
      if (next !== '*' && next !== '\\') fail(path, 'wildcard: "\\" must escape "*" or "\\"');
      source += `\\${next}`;
      index++;
    } else if (char === '*') {
      if (pattern[index + 1] === '*') fail(path, 'wildcard: consecutive "*" characters are not allowed');
      source += '.*';
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  const regex = new RegExp(`^${source}$`, 's');
  return (value: Leaf) => typeof value === 'string' && regex.test(value);
};

const numericTest = (operand: unknown, path: string) => {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0) {
    return fail(path, 'numeric expects [operator, number] or [operator, number, operator, number]');
  }
  const comparisons: { operator: string; bound: number }[] = [];
  for (let index = 0; index < operand.length; index += 2) {
    const operator = operand[index];
    const bound = operand[index + 1];
    if (typeof operator !== 'string' || !['<', '<=', '=', '>', '>='].includes(operator)) {
      fail(path, `numeric: unknown operator ${describe(operator)}`);
    }
    if (!isFiniteNumber(bound)) fail(path, `numeric: ${describe(bound)} is not a number`);
    comparisons.push({ operator: operator as string, bound: bound as number });
  }
  if (comparisons.length > 2) fail(path, 'numeric takes at most two comparisons');
  if (comparisons.length === 2) {
    const lower = comparisons.find((c) => c.operator === '>' || c.operator === '>=');
    const upper = comparisons.find((c) => c.operator === '<' || c.operator === '<=');
    if (!lower || !upper)
      fail(path, 'numeric with two comparisons needs one lower (> or >=) and one upper (< or <=) bound');
    if (lower && upper && lower.bound >= upper.bound)
      fail(path, 'numeric: the lower bound must be below the upper bound');
  }
  const holds = (value: number, { operator, bound }: { operator: string; bound: number }) => {
    switch (operator) {
      case '<':
        return value < bound;
      case '<=':
        return value <= bound;
      case '=':
        return value === bound;
      case '>':
        return value > bound;
      default:
        return value >= bound;
    }
  };
  return (value: Leaf) =>
    typeof value === 'number' && comparisons.every((comparison) => holds(value, comparison));
};

const cidrTest = (operand: unknown, path: string) => {
  const text = stringOperand(operand, path, 'cidr');
  const [address = '', prefixText = '', ...rest] = text.split('/');
  const family = isIP(address);
  const prefix = Number(prefixText);
  const maxPrefix = family === 6 ? 128 : 32;
  if (family === 0 || rest.length > 0 || !/^\d{1,3}$/.test(prefixText) || prefix > maxPrefix) {
    fail(path, `cidr: ${describe(text)} is not an IPv4 or IPv6 CIDR block`);
  }
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const block = new BlockList();
  block.addSubnet(address, prefix, type);
  return (value: Leaf) => typeof value === 'string' && isIP(value) === family && block.check(value, type);
};

const exactTest = (expected: Leaf) => (value: Leaf) => value === expected;

const isExactValue = (value: unknown): value is Leaf =>
  value === null || typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value);

const anythingButTest = (operand: unknown, path: string) => {
  let inner: (value: Leaf) => boolean;
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    const [operator = ''] = keys;
    if (keys.length !== 1) fail(path, 'anything-but takes one operator');
    const argument = operand[operator];
    switch (operator) {
      case 'prefix':
        inner = prefixTest(argument, path);
        break;
      case 'suffix':
        inner = suffixTest(argument, path);
        break;
      case 'equals-ignore-case':
      case 'wildcard': {
        const make = operator === 'wildcard' ? wildcardTest : ignoreCaseTest;
        const tests = (Array.isArray(argument) ? argument : [argument]).map((item) => make(item, path));
        if (tests.length === 0) fail(path, `anything-but ${operator} needs at least one value`);
        inner = (value) => tests.some((test) => test(value));
        break;
      }
      default:
        return fail(path, `anything-but does not support ${describe(operator)}`);
    }
  } else {
    const values = Array.isArray(operand) ? operand : [operand];
    if (values.length === 0) fail(path, 'anything-but needs at least one value');
    const allStrings = values.every((value) => typeof value === 'string');
    const allNumbers = values.every(isFiniteNumber);
    if (!allStrings && !allNumbers) fail(path, 'anything-but takes strings only or numbers only');
    inner = (value) => values.includes(value);
  }
  return (value: Leaf) => !inner(value);
};

const compileMatcher = (element: unknown, path: string): Matcher => {
  if (isExactValue(element)) return { kind: 'test', test: exactTest(element) };
  if (!isPlainObject(element)) return fail(path, `${describe(element)} is not a value or an operator object`);
  const keys = Object.keys(element);
  const [operator = ''] = keys;
  if (keys.length !== 1) fail(path, `an operator object has exactly one key, got ${describe(keys)}`);
  const operand = element[operator];
  switch (operator) {
    case 'exists':
      if (typeof operand !== 'boolean') fail(path, 'exists expects true or false');
      return { kind: 'exists', exists: operand as boolean };
    case 'prefix':
      return { kind: 'test', test: prefixTest(operand, path) };
    case 'suffix':
      return { kind: 'test', test: suffixTest(operand, path) };
    case 'equals-ignore-case':
      return { kind: 'test', test: ignoreCaseTest(operand, path) };
    case 'wildcard':
      return { kind: 'test', test: wildcardTest(operand, path) };
    case 'anything-but':
      return { kind: 'test', test: anythingButTest(operand, path) };
    case 'numeric':
      return { kind: 'test', test: numericTest(operand, path) };
    case 'cidr':
      return { kind: 'test', test: cidrTest(operand, path) };
    default:
      return fail(path, `unknown operator ${describe(operator)}`);
  }
};

const compileNode = (pattern: unknown, path: string): PatternNode => {
  if (!isPlainObject(pattern)) return fail(path, `expected an object, got ${describe(pattern)}`);
  const entries = Object.entries(pattern);
  if (entries.length === 0) fail(path, 'an empty object matches nothing; name at least one field');
  const fields: Field[] = [];
  const alternatives: PatternNode[][] = [];
  for (const [key, value] of entries) {
    const where = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length === 0)
        fail(where, '$or expects a non-empty list of patterns');
      alternatives.push(
        (value as unknown[]).map((alternative, index) => compileNode(alternative, `${where}[${index}]`)),
      );
    } else if (Array.isArray(value)) {
      if (value.length === 0) fail(where, 'an empty list matches nothing');
      fields.push({ key, matchers: value.map((element) => compileMatcher(element, where)) });
    } else if (isPlainObject(value)) {
      fields.push({ key, node: compileNode(value, where) });
    } else {
      fail(where, `expected a list of values or a nested object, got ${describe(value)}`);
    }
  }
  return { fields, alternatives };
};

/** The scalar values at a position: arrays are flattened, objects are not leaves. */
const leavesOf = (value: unknown): Leaf[] => {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(leavesOf);
  if (isExactValue(value)) return [value];
  return [];
};

const matchLeaf = (matchers: readonly Matcher[], value: unknown): boolean => {
  const leaves = leavesOf(value);
  return matchers.some((matcher) =>
    matcher.kind === 'exists' ? leaves.length > 0 === matcher.exists : leaves.some(matcher.test),
  );
};

const matchNode = (node: PatternNode, value: unknown): boolean => {
  if (Array.isArray(value)) {
    return value.length === 0
      ? matchNode(node, undefined)
      : value.some((element) => matchNode(node, element));
  }
  const object = isPlainObject(value) ? value : undefined;
  const fieldOf = (key: string) => (object && Object.hasOwn(object, key) ? object[key] : undefined);
  return (
    node.fields.every((field) =>
      'node' in field
        ? matchNode(field.node, fieldOf(field.key))
        : matchLeaf(field.matchers, fieldOf(field.key)),
    ) && node.alternatives.every((group) => group.some((alternative) => matchNode(alternative, object)))
  );
};

/** Validates a pattern (an object, or its JSON text) and returns a matcher for events. */
export const compileEventPattern = (pattern: unknown): EventPatternMatcher => {
  let parsed = pattern;
  if (typeof pattern === 'string') {
    try {
      parsed = JSON.parse(pattern);
    } catch {
      throw new EventPatternError('pattern: not valid JSON');
    }
  }
  const root = compileNode(parsed, '');
  return (event) => isPlainObject(event) && matchNode(root, event);
};

/** Whether an event matches a pattern (compiles the pattern each call; cache `compileEventPattern` for rules). */
export const matchesEventPattern = (pattern: unknown, event: unknown): boolean =>
  compileEventPattern(pattern)(event);
