import type { IncomingMessage, ServerResponse } from 'node:http';
import { productFor } from '#shared/config';
import { serveHttpApi } from '../http-api.js';
import { sandboxProduct } from '../listing.js';
import {
  type LegacySnsAction,
  legacySnsActions,
  type MarketplaceEventKind,
  marketplaceEventKinds,
} from '../marketplace-events.js';
import { SAAS_SIGN_IN_PATH, type Sandbox, type WebOptions } from '../runner.js';
import { escapeHtml, html, page } from './html.js';
import { buyerPage, dashboardBody } from './pages.js';
import { snapshot } from './snapshot.js';

/**
 * The sandbox web server: the buyer simulator, the dashboard, the mounted HTTP APIs (the
 * fulfillment URL) and the form actions behind the buttons. Actions answer 303 back to the page
 * they came from, with a one-line message shown there, once the handlers they set off are done.
 */

type Flash = { text: string; error: boolean };

const readRaw = (request: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });

const randomAccount = () => String(Math.floor(1e11 + Math.random() * 9e11));

const sendHtml = (response: ServerResponse, status: number, body: string) => {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  response.end(body);
};

export const createWebHandler = (sandbox: Sandbox, options: WebOptions) => {
  let flash: Flash | undefined;
  const takeFlash = () => {
    const current = flash;
    flash = undefined;
    return current;
  };

  // `back`: the button stays on the page it was pressed on.
  const clockWidget = (current: string) => {
    const now = sandbox.clock.now();
    return html`<span title="The simulated clock (UTC)">Simulated time <strong>${now.toISOString().slice(0, 16).replace('T', ' ')}</strong> UTC${sandbox.clock.frozen ? ' (frozen)' : ''}</span>
<form method="post" action="/actions/clock/advance" class="inline"><input type="hidden" name="minutes" value="60"><input type="hidden" name="back" value="${current}"><button type="submit">+1 hour</button></form>`;
  };

  const frame = (title: string, current: string, body: ReturnType<typeof html>, refresh = false) =>
    page({
      title,
      current,
      body,
      clock: clockWidget(current),
      flash: takeFlash(),
      refresh,
      fulfillmentUrl: sandbox.fulfillmentUrl,
    });

  const unavailablePage = (reason: string) =>
    page({
      title: 'Sign-up not available yet',
      current: '',
      clock: clockWidget('/dashboard'),
      fulfillmentUrl: sandbox.fulfillmentUrl,
      body: html`<section class="card"><h2>Sign-up not available yet</h2>
<p>The fulfillment URL's function cannot run in the sandbox: ${reason}.</p>
<p class="note">Once the handler exists, use <em>Reload handler sources</em> on the <a href="/dashboard">dashboard</a> (or restart) and subscribe again.</p></section>`,
    });

  /** An auto-submitting form: the browser POSTs the token to the fulfillment URL, as AWS Marketplace makes it do. */
  const postToFulfillment = (token: string, freeTrial: boolean) => {
    const target = sandbox.fulfillmentUrl ?? '/';
    return page({
      title: 'Redirecting to the seller',
      current: '',
      clock: clockWidget('/dashboard'),
      fulfillmentUrl: sandbox.fulfillmentUrl,
      body: html`<section class="card"><h2>AWS Marketplace is sending you to the seller…</h2>
<form method="post" action="${target}" id="fulfillment" enctype="application/x-www-form-urlencoded">
<input type="hidden" name="x-amzn-marketplace-token" value="${token}">
${freeTrial ? html`<input type="hidden" name="x-amzn-marketplace-offer-type" value="free-trial">` : ''}
<p class="note">POST <code>${target}</code> with <code>x-amzn-marketplace-token</code>${freeTrial ? ' and the free-trial offer type' : ''}.</p>
<noscript><button type="submit" class="primary">Set up your account</button></noscript>
</form>
<script>document.getElementById('fulfillment').submit();</script></section>`,
    });
  };

  const actions: Record<string, (form: URLSearchParams) => Promise<string | { html: string }>> = {
    async '/actions/subscribe'(form) {
      const account =
        form.get('account') === 'new' || !form.get('account') ? randomAccount() : String(form.get('account'));
      const product = form.get('product')
        ? productFor(sandbox.config, String(form.get('product')))
        : sandboxProduct(sandbox.config);
      const dimensions = Object.keys(product.plans.byDimension);
      // The plan picker lists the first product's plans: another product takes its own first one.
      const chosen = form.get('dimension');
      const dimension = chosen && dimensions.includes(chosen) ? chosen : (dimensions[0] ?? '');
      const { token } = sandbox.subscribe({
        customerAwsAccountId: account,
        productCode: product.productCode,
        dimension,
        emitPurchaseEvents: form.get('emitEvents') === '1',
      });
      return { html: postToFulfillment(token, form.get('freeTrial') === '1') };
    },
    async '/actions/setup-again'(form) {
      const agreement = sandbox.agreements.get(String(form.get('licenseArn')));
      if (!agreement) throw new Error('Unknown purchase');
      const token = sandbox.emulators.marketplace.mintToken({
        customerAwsAccountId: agreement.customerAwsAccountId,
        licenseArn: agreement.licenseArn,
      });
      return { html: postToFulfillment(token, false) };
    },
    async '/actions/marketplace-event'(form) {
      const kind = String(form.get('kind')) as MarketplaceEventKind;
      const descriptor = marketplaceEventKinds.find((candidate) => candidate.kind === kind);
      if (!descriptor) throw new Error(`Unknown event kind ${kind}`);
      const licenseArn = String(form.get('licenseArn'));
      const routed = [
        sandbox.emitMarketplaceEvent(licenseArn, kind, {
          ...(form.get('dimension') ? { dimension: String(form.get('dimension')) } : {}),
          ...(form.get('endStatus') ? { endStatus: String(form.get('endStatus')) } : {}),
        }),
      ];
      // An amendment that changes the entitlements is followed by License Updated, as AWS does.
      if (form.get('licenseUpdated') === '1')
        routed.push(sandbox.emitMarketplaceEvent(licenseArn, 'license-updated'));
      return `Emitted ${routed
        .map(
          (entry) =>
            `"${String(entry.event['detail-type'])}" (${entry.matchedRules.length > 0 ? `matched ${entry.matchedRules.join(', ')}` : 'no rule matched it'})`,
        )
        .join(' and ')}.`;
    },
    async '/actions/legacy-sns'(form) {
      const action = String(form.get('action'));
      if (!(legacySnsActions as readonly string[]).includes(action))
        throw new Error(`Unknown SNS action ${action}`);
      const count = sandbox.publishLegacySns(String(form.get('licenseArn')), action as LegacySnsAction);
      return `Sent the SNS notification "${action}" to ${count} subscription(s).`;
    },
    async '/actions/usage'(form) {
      const tenantId = String(form.get('tenantId'));
      const unit = String(form.get('unit'));
      const count = Number(form.get('count'));
      const method = String(form.get('method') ?? 'add') as 'add' | 'sub' | 'direct';
      await sandbox.saasus().updateMeteringCountNow(tenantId, unit, { method, count });
      return `Recorded ${method} ${count} ${unit} for tenant ${tenantId.slice(0, 8)}… in SaaSus.`;
    },
    async '/actions/change-plan'(form) {
      const tenantId = String(form.get('tenantId'));
      const planId = String(form.get('planId') ?? '');
      await sandbox.saasus().updateTenantPlan(tenantId, planId ? { next_plan_id: planId } : {});
      return planId
        ? `Changed the plan of tenant ${tenantId.slice(0, 8)}… in SaaSus.`
        : 'Removed the tenant plan in SaaSus.';
    },
    async '/actions/delete-tenant-user'(form) {
      const [tenantId = '', userId = ''] = String(form.get('tenantUser') ?? '').split('|');
      await sandbox.saasus().deleteTenantUser(tenantId, userId);
      return 'Deleted the user from the tenant in SaaSus.';
    },
    async '/actions/clock/advance'(form) {
      const minutes = Number(form.get('minutes') ?? 60);
      if (!(minutes > 0)) throw new Error('Advance by a positive number of minutes');
      const fired = await sandbox.advanceClock(minutes * 60_000);
      await sandbox.settle(10_000);
      const runs =
        fired.length === 0
          ? 'no schedule was due'
          : `ran ${fired.map((run) => `${run.job} @ ${run.scheduledTime.slice(11, 16)}`).join(', ')}`;
      return `Clock advanced ${minutes} minutes to ${sandbox.clock.now().toISOString().slice(0, 16)}Z; ${runs}.`;
    },
    async '/actions/clock/toggle'() {
      if (sandbox.clock.frozen) sandbox.clock.resume();
      else sandbox.clock.freeze();
      return sandbox.clock.frozen ? 'The clock is frozen.' : 'The clock runs with real time again.';
    },
    async '/actions/dead-letters/redrive'(form) {
      return (await sandbox.deadLetters.redrive(String(form.get('id'))))
        ? 'Redriven.'
        : 'No such dead letter.';
    },
    async '/actions/dead-letters/discard'(form) {
      return sandbox.deadLetters.discard(String(form.get('id'))) ? 'Discarded.' : 'No such dead letter.';
    },
    async '/actions/reload-handlers'() {
      await sandbox.reloadHandlers();
      return 'Handler environments dropped: the next invocations load the sources afresh.';
    },
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://sandbox');
    const method = (request.method ?? 'GET').toUpperCase();
    const body = await readRaw(request);

    const mount = sandbox.httpApis.find(
      (candidate) => url.pathname === candidate.prefix || url.pathname.startsWith(`${candidate.prefix}/`),
    );
    if (mount) {
      await serveHttpApi(mount, request, body, response, {
        account: sandbox.account,
        host: (logicalId) => sandbox.functions.get(logicalId)?.host,
        now: () => sandbox.clock.now(),
        unavailablePage,
      });
      return;
    }

    if (method === 'GET' && url.pathname === '/') {
      const data = await snapshot(sandbox);
      return sendHtml(
        response,
        200,
        frame('Buyer simulator', '/', buyerPage(sandbox, data, options.presetBuyerAccounts)),
      );
    }
    if (method === 'GET' && url.pathname === '/dashboard') {
      const data = await snapshot(sandbox);
      const filter = { eventSource: url.searchParams.get('events') || undefined };
      // The refresh fragment: the body only; the message of the last action stays above it.
      if (url.searchParams.get('partial') === '1')
        return sendHtml(response, 200, dashboardBody(sandbox, data, filter).html);
      return sendHtml(
        response,
        200,
        frame('Dashboard', '/dashboard', dashboardBody(sandbox, data, filter), true),
      );
    }
    if (method === 'GET' && url.pathname === SAAS_SIGN_IN_PATH) {
      return sendHtml(
        response,
        200,
        frame(
          'SaaS sign-in',
          '',
          html`<section class="card"><h2>Here the buyer signs in to your SaaS</h2>
<p>Sign-up ends by sending the buyer to the SaaS sign-in page, <code>saasus.signInUrl</code> in the config${options.saasSignInUrl ? html` (<code>${options.saasSignInUrl}</code>)` : ''}. The sandbox has no SaaS to sign in to, so this page stands in for it.</p>
<p>Carry on from the <a href="/">buyer simulator</a> (usage, plan changes, what AWS does later) or see the result on the <a href="/dashboard">dashboard</a>.</p></section>`,
        ),
      );
    }
    if (method === 'GET' && url.pathname === '/api/state') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(await snapshot(sandbox)));
      return;
    }
    if (method === 'GET' && url.pathname === '/favicon.ico') {
      response.writeHead(204);
      response.end();
      return;
    }
    if (method === 'GET' && url.pathname === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('ok');
      return;
    }
    const action = actions[url.pathname];
    if (method === 'POST' && action) {
      const form = new URLSearchParams(body.toString('utf8'));
      const back = form.get('back')?.startsWith('/') ? String(form.get('back')) : '/';
      try {
        const result = await action(form);
        if (typeof result === 'object') return sendHtml(response, 200, result.html);
        // Let the handlers it set off finish, so the page it returns to shows what it caused
        // (retries and other work waiting for the simulated clock stay queued).
        await sandbox.settle(5_000);
        flash = { text: result, error: false };
      } catch (error) {
        flash = { text: `Failed: ${error instanceof Error ? error.message : String(error)}`, error: true };
      }
      response.writeHead(303, { location: back });
      response.end();
      return;
    }
    sendHtml(
      response,
      404,
      frame(
        'Not found',
        '',
        html`<section class="card"><h2>Not found</h2><p>Nothing at <code>${url.pathname}</code>. Try the <a href="/">buyer simulator</a> or the <a href="/dashboard">dashboard</a>.</p></section>`,
      ),
    );
  };

  return (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendHtml(
          response,
          500,
          `<pre>${escapeHtml(error instanceof Error ? (error.stack ?? error.message) : String(error))}</pre>`,
        );
      } else response.end();
    });
  };
};
