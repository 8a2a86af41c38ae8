import { describe, expect, it } from 'vitest';
import type { InvocationRecord } from '#sandbox/lambda/host';
import { invocationOutcome } from '#sandbox/web/pages';

const invocation = (requestId: string, ok: boolean): InvocationRecord => ({
  requestId,
  functionLogicalId: 'EventsMarketplaceHandler',
  trigger: 'rule EventsMarketplaceRule',
  at: '2026-11-22T09:20:00.000Z',
  durationMs: 5,
  ok,
  ...(ok
    ? {}
    : { error: { errorType: 'LicenseNotLocatedError', errorMessage: 'no license yet', stack: '' } }),
});

describe('the dashboard outcome of an invocation', () => {
  it('labels a failure whose request later succeeded as a retry, in a neutral badge', () => {
    const { html } = invocationOutcome(invocation('r-1', false), new Set(['r-1']));
    expect(html).toContain('retried, then succeeded');
    expect(html).not.toContain('badge bad');
    expect(html).toContain('LicenseNotLocatedError');
  });

  it('shows a failure no retry got through as a failure', () => {
    const { html } = invocationOutcome(invocation('r-2', false), new Set(['r-1']));
    expect(html).toContain('badge bad');
    expect(html).not.toContain('retried');
  });

  it('shows a success as ok', () => {
    expect(invocationOutcome(invocation('r-3', true), new Set(['r-3'])).html).toContain('badge ok');
  });
});
