import { describe, expect, it } from 'vitest';
import type { Sandbox } from '#sandbox/runner';
import { parseForms, parseLinks, runScenario, type Scenario } from '#sandbox/scenario';

const sandbox = { url: 'http://127.0.0.1:9' } as Sandbox;

const story = (run: Scenario['run']): Scenario => ({ name: 'story', description: 'a test story', run });

describe('runScenario', () => {
  it('passes when every expectation of every step holds', async () => {
    const lines: string[] = [];
    const result = await runScenario(
      story(async ({ step }) => {
        await step('one', (check) => {
          check(true, 'it holds');
          check.equal({ a: [1] }, { a: [1] }, 'equal values');
        });
      }),
      sandbox,
      (line) => lines.push(line),
    );
    expect(result.passed).toBe(true);
    expect(result.steps.map((step) => step.expectations.length)).toEqual([2]);
    expect(lines.at(-1)).toBe('Scenario story passed: 2/2 expectations held in 1 steps.');
  });

  it('reports a failed expectation and carries on with the next step', async () => {
    const lines: string[] = [];
    const result = await runScenario(
      story(async ({ step }) => {
        await step('first', (check) => {
          check.equal(1, 2, 'one is two');
        });
        await step('second', (check) => {
          check(true, 'still runs');
        });
      }),
      sandbox,
      (line) => lines.push(line),
    );
    expect(result.passed).toBe(false);
    expect(result.steps.map((step) => step.name)).toEqual(['first', 'second']);
    expect(lines).toContain('      ✗ one is two: expected 2, got 1');
  });

  it('ends the story at a step that throws', async () => {
    const result = await runScenario(
      story(async ({ step }) => {
        await step('broken', () => {
          throw new Error('no luck');
        });
        await step('never', (check) => {
          check(true, 'unreachable');
        });
      }),
      sandbox,
    );
    expect(result.passed).toBe(false);
    expect(result.steps).toEqual([
      expect.objectContaining({ name: 'broken', error: expect.stringContaining('no luck') }),
    ]);
  });

  it('does not pass a story that checked nothing', async () => {
    const result = await runScenario(
      story(async ({ step }) => {
        await step('empty', () => {});
      }),
      sandbox,
    );
    expect(result.passed).toBe(false);
  });
});

describe('parseForms', () => {
  it('reads actions, methods and the values a browser would submit', () => {
    const html = `<form method="post" action="&#47;fulfillment&#x2F;register">
<input type="hidden" name="csrf" value="a&amp;b">
<input id="x" name="tenantName" type="text" value="">
<input type="checkbox" name="agree" value="1" checked>
<input type="checkbox" name="news" value="1">
<select name="plan"><option value="basic">Basic</option><option value="pro" selected>Pro</option></select>
<button type="submit">Go</button></form>
<form action="search"><input name="q" value="x"></form>`;
    expect(parseForms(html, 'http://127.0.0.1:3000/fulfillment/')).toEqual([
      {
        action: 'http://127.0.0.1:3000/fulfillment/register',
        method: 'POST',
        fields: { csrf: 'a&b', tenantName: '', agree: '1', plan: 'pro' },
      },
      { action: 'http://127.0.0.1:3000/fulfillment/search', method: 'GET', fields: { q: 'x' } },
    ]);
  });
});

describe('parseLinks', () => {
  it('reads link targets as a browser follows them: entities decoded, resolved against the page', () => {
    const html = `<a class="button" href="https&#x3A;&#x2F;&#x2F;auth.example.com&#x2F;sign-in">Sign in</a>
<p>Back to the <a href="/">buyer simulator</a> or <a href='dashboard?x=1&amp;y=2'>dashboard</a>.</p>
<a name="anchor-only">no target</a>`;
    expect(parseLinks(html, 'http://127.0.0.1:3000/saas/sign-in')).toEqual([
      'https://auth.example.com/sign-in',
      'http://127.0.0.1:3000/',
      'http://127.0.0.1:3000/saas/dashboard?x=1&y=2',
    ]);
  });
});
