import { inspect } from 'node:util';
import type { Sandbox } from './runner.js';

/**
 * Scripted stories run against a live sandbox (`npm start -- --scenario NAME`): a scenario is a
 * sequence of named steps, each checking expectations. A failed expectation is reported and the
 * story goes on; a step that throws ends it (later steps build on earlier ones). The run passes
 * only if every expectation held and no step threw.
 */

export interface Expectation {
  readonly description: string;
  readonly passed: boolean;
  readonly detail?: string;
}

export interface StepResult {
  readonly name: string;
  readonly expectations: readonly Expectation[];
  readonly error?: string;
  readonly durationMs: number;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly passed: boolean;
  readonly steps: readonly StepResult[];
}

export interface Check {
  /** Expects a condition to hold. */
  (condition: boolean, description: string, detail?: unknown): boolean;
  /** Expects deep equality (compared as JSON). */
  equal(actual: unknown, expected: unknown, description: string): boolean;
}

export interface ScenarioContext {
  readonly sandbox: Sandbox;
  /** Runs a named step; its expectations are checked with `check`. */
  step(name: string, body: (check: Check) => Promise<void> | void): Promise<void>;
  /** GETs or POSTs a sandbox page (relative paths are resolved against the sandbox URL). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A new browser session (cookies, redirects, forms) on the sandbox. */
  browser(): BrowserSession;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** The deployment config the story is written for, used unless `--config` names another. */
  readonly configFile?: string;
  run(context: ScenarioContext): Promise<void>;
}

class StepAborted extends Error {}

const describe = (value: unknown) => inspect(value, { depth: 4, breakLength: 120 });

export const runScenario = async (
  scenario: Scenario,
  sandbox: Sandbox,
  report: (line: string) => void = () => {},
): Promise<ScenarioResult> => {
  const steps: StepResult[] = [];
  report(`Scenario ${scenario.name}: ${scenario.description}`);
  const context: ScenarioContext = {
    sandbox,
    fetch: (path, init) => fetch(new URL(path, sandbox.url), { redirect: 'manual', ...init }),
    browser: () => createBrowserSession(sandbox.url),
    async step(name, body) {
      const expectations: Expectation[] = [];
      const check = ((condition: boolean, description: string, detail?: unknown) => {
        expectations.push({
          description,
          passed: condition,
          ...(condition || detail === undefined
            ? {}
            : { detail: typeof detail === 'string' ? detail : describe(detail) }),
        });
        return condition;
      }) as Check;
      check.equal = (actual, expected, description) =>
        check(
          JSON.stringify(actual) === JSON.stringify(expected),
          description,
          `expected ${describe(expected)}, got ${describe(actual)}`,
        );
      const started = performance.now();
      let error: string | undefined;
      try {
        await body(check);
      } catch (thrown) {
        error = thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown);
      }
      const result: StepResult = {
        name,
        expectations,
        durationMs: performance.now() - started,
        ...(error ? { error } : {}),
      };
      steps.push(result);
      const failed = expectations.filter((expectation) => !expectation.passed);
      const mark = error || failed.length > 0 ? '✗' : '✓';
      report(
        `  ${mark} ${name} (${expectations.length - failed.length}/${expectations.length} expectations, ${Math.round(result.durationMs)} ms)`,
      );
      for (const expectation of failed) {
        report(`      ✗ ${expectation.description}${expectation.detail ? `: ${expectation.detail}` : ''}`);
      }
      if (error) {
        report(`      ✗ the step threw: ${error.split('\n').slice(0, 4).join('\n        ')}`);
        throw new StepAborted(name);
      }
    },
  };
  try {
    await scenario.run(context);
  } catch (error) {
    if (!(error instanceof StepAborted)) {
      steps.push({
        name: '(scenario)',
        expectations: [],
        error: error instanceof Error ? error.message : String(error),
        durationMs: 0,
      });
      report(`  ✗ the scenario threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const expectations = steps.flatMap((step) => step.expectations);
  const passed =
    steps.every((step) => !step.error) && expectations.length > 0 && expectations.every((e) => e.passed);
  report(
    `Scenario ${scenario.name} ${passed ? 'passed' : 'FAILED'}: ${expectations.filter((e) => e.passed).length}/${expectations.length} expectations held in ${steps.length} steps.`,
  );
  return { scenario: scenario.name, passed, steps };
};

// --- a browser for scenarios ----------------------------------------------------------------------

export interface HtmlForm {
  readonly action: string;
  readonly method: string;
  /** Named inputs with their values (hidden fields included). */
  readonly fields: Record<string, string>;
}

export interface Redirect {
  readonly status: number;
  /** The URL that answered with the redirect. */
  readonly from: string;
  /** Its Location header, as sent. */
  readonly location: string;
}

export interface PageResponse {
  readonly status: number;
  /** The URL after redirects. */
  readonly url: string;
  /** The redirects followed on the way, in order. */
  readonly redirects: readonly Redirect[];
  readonly html: string;
  /** Forms on the page, in document order. */
  readonly forms: readonly HtmlForm[];
  /** The targets of the page's links (`<a href>`), resolved, in document order. */
  readonly links: readonly string[];
}

export interface BrowserSession {
  get(path: string): Promise<PageResponse>;
  /** Submits fields as application/x-www-form-urlencoded, following redirects as a browser does. */
  post(path: string, fields: Record<string, string>): Promise<PageResponse>;
  /** Submits a form of the page: its fields, overridden by `fields`. */
  submit(form: HtmlForm, fields?: Record<string, string>): Promise<PageResponse>;
  readonly cookies: ReadonlyMap<string, string>;
}

const decodeEntities = (text: string) =>
  text
    .replace(/&#(\d+);/g, (_entity, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_entity, code: string) => String.fromCodePoint(Number.parseInt(code, 16)))
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

const attribute = (tag: string, name: string) => {
  const match = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
  return match ? decodeEntities(match[2] ?? match[3] ?? '') : undefined;
};

/** The forms of a page and their input values (enough for the sandbox's and the sign-up pages). */
export const parseForms = (html: string, baseUrl: string): HtmlForm[] =>
  [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)].map(([form]) => {
    const open = /<form\b[^>]*>/i.exec(form)?.[0] ?? '';
    const fields: Record<string, string> = {};
    for (const [input] of form.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input, 'name');
      const type = attribute(input, 'type') ?? 'text';
      if (!name || ((type === 'checkbox' || type === 'radio') && !/\schecked\b/i.test(input))) continue;
      fields[name] = attribute(input, 'value') ?? (type === 'checkbox' ? 'on' : '');
    }
    for (const [select, name, options] of form.matchAll(
      /<select\b[^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/gi,
    )) {
      const chosen =
        /<option\b[^>]*\sselected\b[^>]*>/i.exec(options ?? '')?.[0] ??
        /<option\b[^>]*>/i.exec(options ?? '')?.[0];
      if (name && chosen && select) fields[name] = attribute(chosen, 'value') ?? '';
    }
    return {
      action: new URL(attribute(open, 'action') ?? '', baseUrl).href,
      method: (attribute(open, 'method') ?? 'get').toUpperCase(),
      fields,
    };
  });

/** The targets of the links of a page, resolved against its URL. */
export const parseLinks = (html: string, baseUrl: string): string[] =>
  [...html.matchAll(/<a\b[^>]*>/gi)].flatMap(([tag]) => {
    const href = attribute(tag, 'href');
    return href === undefined ? [] : [new URL(href, baseUrl).href];
  });

/** A minimal browser: a cookie jar, redirects followed, forms and links parsed. */
export const createBrowserSession = (baseUrl: string): BrowserSession => {
  const cookies = new Map<string, string>();
  const request = async (url: string, init: RequestInit): Promise<PageResponse> => {
    let current = new URL(url, baseUrl).href;
    let options = init;
    const redirects: Redirect[] = [];
    for (let hop = 0; hop < 10; hop++) {
      const headers = new Headers(options.headers);
      if (cookies.size > 0)
        headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
      const response = await fetch(current, { ...options, headers, redirect: 'manual' });
      for (const setCookie of response.headers.getSetCookie()) {
        const [pair = ''] = setCookie.split(';');
        const index = pair.indexOf('=');
        if (index <= 0) continue;
        const name = pair.slice(0, index).trim();
        const value = pair.slice(index + 1).trim();
        if (value === '' || /;\s*max-age=0/i.test(setCookie)) cookies.delete(name);
        else cookies.set(name, value);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        redirects.push({ status: response.status, from: current, location });
        current = new URL(location, current).href;
        // 303 (and 301/302 after a POST, as browsers do) turn into a GET.
        if (response.status !== 307 && response.status !== 308) options = { method: 'GET' };
        await response.arrayBuffer();
        continue;
      }
      const html = await response.text();
      return {
        status: response.status,
        url: current,
        redirects,
        html,
        forms: parseForms(html, current),
        links: parseLinks(html, current),
      };
    }
    throw new Error(`Too many redirects from ${url}`);
  };
  const post = (path: string, fields: Record<string, string>) =>
    request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  return {
    cookies,
    get: (path) => request(path, { method: 'GET' }),
    post,
    submit: (form, fields = {}) =>
      form.method === 'POST'
        ? post(form.action, { ...form.fields, ...fields })
        : request(`${form.action}?${new URLSearchParams({ ...form.fields, ...fields })}`, { method: 'GET' }),
  };
};
