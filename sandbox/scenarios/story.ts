import type { Jsonify } from 'type-fest';
import type { BrowserSession, HtmlForm, PageResponse, ScenarioContext } from '../scenario.js';
import type { Snapshot } from '../web/snapshot.js';

/** What the scenarios read and do through the sandbox's own pages, as a person would. */

export type State = Jsonify<Snapshot>;

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** Agreement events may arrive before their license is known and succeed on Lambda's retry. */
export const EXPECTED_FAILURE = 'LicenseNotLocatedError';

export const formWith = (page: PageResponse, action: string, fields: Record<string, string> = {}) => {
  const form = page.forms.find(
    (candidate) =>
      candidate.action.endsWith(action) &&
      Object.entries(fields).every(([name, value]) => candidate.fields[name] === value),
  );
  if (!form) throw new Error(`No form posting to ${action} ${JSON.stringify(fields)} on ${page.url}`);
  return form;
};

export const flashOf = (page: PageResponse) =>
  /<p class="flash( error)?">([\s\S]*?)<\/p>/.exec(page.html)?.[2]?.replace(/&quot;/g, '"') ?? '';

export const headingOf = (page: PageResponse) => /<h1[^>]*>([\s\S]*?)<\/h1>/.exec(page.html)?.[1]?.trim();

/** A buyer's and an operator's browser, the dashboard's state, and a form run that waits for its effects. */
export const storyTools = ({ sandbox, fetch, browser }: ScenarioContext) => {
  const state = async (): Promise<State> => {
    const response = await fetch('/api/state');
    if (response.status !== 200) throw new Error(`GET /api/state answered ${response.status}`);
    return (await response.json()) as State;
  };
  const buyer: BrowserSession = browser();
  const operator: BrowserSession = browser();
  /** Runs a form of a page of the buyer simulator or the dashboard; returns the page it comes back to. */
  const act = async (session: BrowserSession, form: HtmlForm, fields: Record<string, string> = {}) => {
    const page = await session.submit(form, fields);
    await sandbox.settle();
    return page;
  };
  return { state, buyer, operator, act };
};
