import { describe, expect, it } from 'vitest';
import { compileEventPattern, EventPatternError, matchesEventPattern } from '#sandbox/event-pattern';

const event = {
  version: '0',
  id: 'e-1',
  'detail-type': 'Purchase Agreement Created - Proposer',
  source: 'aws.agreement-marketplace',
  account: '123456789012',
  time: '2026-06-01T10:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:aws-marketplace::aws:agreement:agmt-1', 'arn:aws:s3:::bucket'],
  detail: {
    agreement: { id: 'agmt-1', intent: 'NEW', status: 'ACTIVE' },
    acceptor: { accountId: '845735284135' },
    product: { id: 'prod-examplebridge01', code: 'ABC123' },
    count: 7,
    ratio: 0.25,
    enabled: true,
    disabled: false,
    note: null,
    empty: '',
    tags: ['blue', 'green'],
    numbers: [1, 5, 9],
    items: [
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 3 },
    ],
    nested: { deeper: { value: 'x' } },
    file: 'Report.PNG',
    path: 'src/lib/index.ts',
    ip: '10.0.1.20',
    ip6: '2001:db8::7',
    emptyList: [],
  },
};

type Row = readonly [name: string, pattern: unknown, expected: boolean];

const rows: Row[] = [
  // exact values
  ['exact string', { source: ['aws.agreement-marketplace'] }, true],
  ['exact string, other value', { source: ['aws.events'] }, false],
  ['exact string is case-sensitive', { source: ['AWS.agreement-marketplace'] }, false],
  ['one of several values', { source: ['aws.events', 'aws.agreement-marketplace'] }, true],
  [
    'several fields must all match',
    { source: ['aws.agreement-marketplace'], account: ['999999999999'] },
    false,
  ],
  ['exact number', { detail: { count: [7] } }, true],
  ['exact number, other value', { detail: { count: [8] } }, false],
  ['number does not match its string form', { detail: { count: ['7'] } }, false],
  ['string does not match a number', { account: [123456789012] }, false],
  ['exact boolean true', { detail: { enabled: [true] } }, true],
  ['exact boolean false', { detail: { disabled: [false] } }, true],
  ['boolean mismatch', { detail: { enabled: [false] } }, false],
  ['null matches a null value', { detail: { note: [null] } }, true],
  ['null does not match a missing field', { detail: { missing: [null] } }, false],
  ['null does not match the empty string', { detail: { empty: [null] } }, false],
  ['empty string matches the empty string', { detail: { empty: [''] } }, true],
  ['missing field never matches an exact value', { detail: { missing: ['x'] } }, false],
  // nesting and arrays
  ['nested objects', { detail: { agreement: { intent: ['NEW'], status: ['ACTIVE'] } } }, true],
  [
    'nested objects, one field differs',
    { detail: { agreement: { intent: ['NEW'], status: ['ENDED'] } } },
    false,
  ],
  ['three levels deep', { detail: { nested: { deeper: { value: ['x'] } } } }, true],
  ['pattern object where the event has a scalar', { source: { inner: ['x'] } }, false],
  ['pattern leaf where the event has an object', { detail: { agreement: ['agmt-1'] } }, false],
  ['array in the event: any element matches', { detail: { tags: ['green'] } }, true],
  ['array in the event: no element matches', { detail: { tags: ['red'] } }, false],
  ['array of numbers', { detail: { numbers: [5] } }, true],
  ['top-level resources array', { resources: [{ prefix: 'arn:aws:s3' }] }, true],
  [
    'array of objects: fields match within one element',
    { detail: { items: { sku: ['b'], qty: [3] } } },
    true,
  ],
  [
    'array of objects: fields from different elements',
    { detail: { items: { sku: ['a'], qty: [3] } } },
    false,
  ],
  // prefix / suffix
  ['prefix', { 'detail-type': [{ prefix: 'Purchase Agreement' }] }, true],
  ['prefix, no match', { 'detail-type': [{ prefix: 'License' }] }, false],
  ['prefix is case-sensitive', { 'detail-type': [{ prefix: 'purchase' }] }, false],
  [
    'prefix with equals-ignore-case',
    { 'detail-type': [{ prefix: { 'equals-ignore-case': 'PURCHASE agreement' } }] },
    true,
  ],
  ['prefix only applies to strings', { detail: { count: [{ prefix: '7' }] } }, false],
  ['suffix', { 'detail-type': [{ suffix: '- Proposer' }] }, true],
  ['suffix, no match', { 'detail-type': [{ suffix: '- Manufacturer' }] }, false],
  [
    'suffix with equals-ignore-case',
    { detail: { file: [{ suffix: { 'equals-ignore-case': '.png' } }] } },
    true,
  ],
  ['suffix is case-sensitive', { detail: { file: [{ suffix: '.png' }] } }, false],
  // equals-ignore-case
  ['equals-ignore-case', { source: [{ 'equals-ignore-case': 'AWS.Agreement-Marketplace' }] }, true],
  ['equals-ignore-case, other value', { source: [{ 'equals-ignore-case': 'aws.events' }] }, false],
  ['equals-ignore-case is not a prefix match', { source: [{ 'equals-ignore-case': 'aws' }] }, false],
  // wildcard
  ['wildcard in the middle', { 'detail-type': [{ wildcard: 'Purchase * Created - *' }] }, true],
  ['wildcard matching an empty run', { detail: { path: [{ wildcard: 'src/*lib/index.ts' }] } }, true],
  ['wildcard, no match', { 'detail-type': [{ wildcard: 'License *' }] }, false],
  [
    'wildcard with regex metacharacters taken literally',
    { detail: { path: [{ wildcard: 'src/lib/index.t?' }] } },
    false,
  ],
  ['wildcard escaped star is literal', { detail: { path: [{ wildcard: 'src/lib/\\*' }] } }, false],
  ['wildcard must match the whole value', { detail: { path: [{ wildcard: 'lib/*' }] } }, false],
  // anything-but
  ['anything-but string', { detail: { agreement: { status: [{ 'anything-but': 'ENDED' }] } } }, true],
  [
    'anything-but string, excluded value',
    { detail: { agreement: { status: [{ 'anything-but': 'ACTIVE' }] } } },
    false,
  ],
  [
    'anything-but list',
    { detail: { agreement: { intent: [{ 'anything-but': ['AMEND', 'RENEW'] }] } } },
    true,
  ],
  [
    'anything-but list, excluded value',
    { detail: { agreement: { intent: [{ 'anything-but': ['NEW', 'RENEW'] }] } } },
    false,
  ],
  ['anything-but number', { detail: { count: [{ 'anything-but': 8 }] } }, true],
  ['anything-but number list, excluded value', { detail: { count: [{ 'anything-but': [1, 7] }] } }, false],
  ['anything-but never matches a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
  [
    'anything-but on an array: another element differs',
    { detail: { tags: [{ 'anything-but': 'blue' }] } },
    true,
  ],
  [
    'anything-but on an array: every element excluded',
    { detail: { tags: [{ 'anything-but': ['blue', 'green'] }] } },
    false,
  ],
  ['anything-but prefix', { source: [{ 'anything-but': { prefix: 'aws.partner/' } }] }, true],
  ['anything-but prefix, excluded', { source: [{ 'anything-but': { prefix: 'aws.' } }] }, false],
  ['anything-but suffix', { detail: { file: [{ 'anything-but': { suffix: '.jpg' } }] } }, true],
  ['anything-but suffix, excluded', { detail: { file: [{ 'anything-but': { suffix: '.PNG' } }] } }, false],
  [
    'anything-but equals-ignore-case',
    { detail: { file: [{ 'anything-but': { 'equals-ignore-case': 'report.png' } }] } },
    false,
  ],
  [
    'anything-but equals-ignore-case list',
    { detail: { file: [{ 'anything-but': { 'equals-ignore-case': ['a', 'b'] } }] } },
    true,
  ],
  ['anything-but wildcard', { detail: { path: [{ 'anything-but': { wildcard: '*/test/*' } }] } }, true],
  [
    'anything-but wildcard, excluded',
    { detail: { path: [{ 'anything-but': { wildcard: '*/lib/*' } }] } },
    false,
  ],
  // numeric
  ['numeric greater than', { detail: { count: [{ numeric: ['>', 5] }] } }, true],
  ['numeric greater than, equal value', { detail: { count: [{ numeric: ['>', 7] }] } }, false],
  ['numeric greater or equal', { detail: { count: [{ numeric: ['>=', 7] }] } }, true],
  ['numeric less than', { detail: { count: [{ numeric: ['<', 7] }] } }, false],
  ['numeric less or equal', { detail: { count: [{ numeric: ['<=', 7] }] } }, true],
  ['numeric equals', { detail: { ratio: [{ numeric: ['=', 0.25] }] } }, true],
  ['numeric equals, other value', { detail: { ratio: [{ numeric: ['=', 0.5] }] } }, false],
  ['numeric range inside', { detail: { count: [{ numeric: ['>', 0, '<=', 7] }] } }, true],
  ['numeric range outside', { detail: { count: [{ numeric: ['>=', 8, '<', 10] }] } }, false],
  ['numeric on an array', { detail: { numbers: [{ numeric: ['>', 8] }] } }, true],
  ['numeric does not match strings', { account: [{ numeric: ['>', 0] }] }, false],
  ['numeric on a missing field', { detail: { missing: [{ numeric: ['>', 0] }] } }, false],
  // exists
  ['exists true on a present leaf', { detail: { count: [{ exists: true }] } }, true],
  ['exists true on a null leaf', { detail: { note: [{ exists: true }] } }, true],
  ['exists true on a missing field', { detail: { missing: [{ exists: true }] } }, false],
  ['exists false on a missing field', { detail: { missing: [{ exists: false }] } }, true],
  ['exists false on a present leaf', { detail: { count: [{ exists: false }] } }, false],
  ['exists false under a missing parent', { detail: { absent: { child: [{ exists: false }] } } }, true],
  ['exists true under a missing parent', { detail: { absent: { child: [{ exists: true }] } } }, false],
  ['exists true on an object (not a leaf)', { detail: { agreement: [{ exists: true }] } }, false],
  ['exists false on an empty array', { detail: { emptyList: [{ exists: false }] } }, true],
  ['exists true on a non-empty array', { detail: { tags: [{ exists: true }] } }, true],
  ['exists false or a value', { detail: { count: [{ exists: false }, 7] } }, true],
  // cidr
  ['cidr IPv4 inside', { detail: { ip: [{ cidr: '10.0.0.0/16' }] } }, true],
  ['cidr IPv4 outside', { detail: { ip: [{ cidr: '10.1.0.0/16' }] } }, false],
  ['cidr IPv6 inside', { detail: { ip6: [{ cidr: '2001:db8::/32' }] } }, true],
  ['cidr IPv4 block against an IPv6 address', { detail: { ip6: [{ cidr: '10.0.0.0/8' }] } }, false],
  // $or
  [
    '$or: first alternative',
    { $or: [{ source: ['aws.agreement-marketplace'] }, { source: ['aws.events'] }] },
    true,
  ],
  ['$or: second alternative', { $or: [{ account: ['1'] }, { detail: { count: [7] } }] }, true],
  ['$or: no alternative', { $or: [{ account: ['1'] }, { detail: { count: [8] } }] }, false],
  [
    '$or combined with a field',
    { source: ['aws.events'], $or: [{ account: ['123456789012'] }, { region: ['us-east-1'] }] },
    false,
  ],
  [
    '$or nested in detail',
    { detail: { $or: [{ count: [{ numeric: ['>', 100] }] }, { enabled: [true] }] } },
    true,
  ],
  [
    '$or with exists false',
    { $or: [{ detail: { missing: [{ exists: true }] } }, { detail: { missing: [{ exists: false }] } }] },
    true,
  ],
  // realistic rule patterns
  [
    'marketplace rule',
    {
      source: ['aws.agreement-marketplace'],
      'detail-type': [{ prefix: 'Purchase Agreement' }, { prefix: 'License ' }],
      detail: { product: { id: ['prod-examplebridge01'] } },
    },
    true,
  ],
  [
    'marketplace rule for another product',
    { source: ['aws.agreement-marketplace'], detail: { product: { id: ['prod-other'] } } },
    false,
  ],
];

describe('EventBridge pattern matching', () => {
  it.each(rows)('%s', (_name, pattern, expected) => {
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });

  it('accepts the pattern as JSON text', () => {
    expect(matchesEventPattern(JSON.stringify({ source: ['aws.agreement-marketplace'] }), event)).toBe(true);
  });

  it('reuses a compiled pattern for many events', () => {
    const matches = compileEventPattern({ detail: { n: [{ numeric: ['>=', 10, '<', 20] }] } });
    expect([9, 10, 15, 19.5, 20, '15'].map((n) => matches({ detail: { n } }))).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it('never matches something that is not an event object', () => {
    const matches = compileEventPattern({ source: [{ exists: false }] });
    expect([null, 'text', 3, []].map(matches)).toEqual([false, false, false, false]);
    expect(matches({})).toBe(true);
  });
});

const invalid: readonly [name: string, pattern: unknown, message: RegExp][] = [
  ['not an object', ['source'], /expected an object/],
  ['empty pattern', {}, /empty object/],
  ['not JSON', '{source:', /not valid JSON/],
  ['a bare value instead of a list', { source: 'aws.events' }, /expected a list of values/],
  ['an empty list', { source: [] }, /empty list/],
  ['a nested list', { source: [['a']] }, /not a value or an operator object/],
  ['an unknown operator', { source: [{ contains: 'aws' }] }, /unknown operator "contains"/],
  ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }, /exactly one key/],
  ['prefix with a number', { source: [{ prefix: 1 }] }, /"prefix" expects a string/],
  ['prefix with an unknown option', { source: [{ prefix: { 'ignore-case': 'a' } }] }, /equals-ignore-case/],
  ['exists with a string', { source: [{ exists: 'yes' }] }, /exists expects true or false/],
  ['numeric with an odd operand list', { n: [{ numeric: ['>', 1, '<'] }] }, /numeric expects/],
  ['numeric with an unknown operator', { n: [{ numeric: ['!=', 1] }] }, /unknown operator "!="/],
  ['numeric with a string bound', { n: [{ numeric: ['>', '1'] }] }, /is not a number/],
  ['numeric with two lower bounds', { n: [{ numeric: ['>', 1, '>=', 2] }] }, /one lower/],
  ['numeric with an empty range', { n: [{ numeric: ['>', 5, '<', 5] }] }, /below the upper bound/],
  ['anything-but with mixed types', { n: [{ 'anything-but': ['a', 1] }] }, /strings only or numbers only/],
  ['anything-but with an empty list', { n: [{ 'anything-but': [] }] }, /at least one value/],
  ['anything-but numeric', { n: [{ 'anything-but': { numeric: ['>', 1] } }] }, /does not support "numeric"/],
  ['wildcard with consecutive stars', { n: [{ wildcard: 'a**b' }] }, /consecutive/],
  ['wildcard with a stray escape', { n: [{ wildcard: 'a\\b' }] }, /must escape/],
  ['cidr that is not a block', { ip: [{ cidr: '10.0.0.0' }] }, /not an IPv4 or IPv6 CIDR block/],
  ['cidr prefix too long', { ip: [{ cidr: '10.0.0.0/33' }] }, /CIDR block/],
  ['$or that is not a list', { $or: { a: ['b'] } }, /\$or expects/],
  ['$or with an invalid alternative', { $or: [{ a: ['b'] }, { c: 'd' }] }, /\$or\[1\]\.c/],
];

describe('invalid event patterns', () => {
  it.each(invalid)('rejects %s', (_name, pattern, message) => {
    expect(() => compileEventPattern(pattern)).toThrow(EventPatternError);
    expect(() => compileEventPattern(pattern)).toThrow(message);
  });
});
