import type { Product } from '#shared/config';
import { sandboxProduct } from '../listing.js';
import { legacySnsActions, type MarketplaceEventKind, marketplaceEventKinds } from '../marketplace-events.js';
import type { Sandbox } from '../runner.js';
import { actionForm, badge, type Html, hidden, html, json, raw, select, short, table, time } from './html.js';
import type { Snapshot } from './snapshot.js';

/** The buyer simulator (`/`) and the dashboard (`/dashboard`) bodies. */

const statusTone = (status: unknown) =>
  status === 'active'
    ? 'ok'
    : status === 'failed' || status === 'ended'
      ? 'bad'
      : status === 'ending'
        ? 'warn'
        : 'info';

const planOptions = (sandbox: Sandbox) =>
  Object.entries(sandboxProduct(sandbox.config).plans.byDimension).map(([dimension, planId]) => ({
    value: dimension,
    label: `${dimension} (SaaSus plan …${planId.slice(-6)})`,
  }));

/** A bus by a name a person recognizes (the partner bus name is a long generated one). */
const busLabel = (sandbox: Sandbox, busName: string): Html =>
  busName === sandbox.partnerBusName
    ? html`<span title="${busName}">SaaSus partner bus</span>`
    : html`<span>${busName}</span>`;

const sourceLabel = (source: unknown): Html => {
  const text = String(source ?? '');
  return text.startsWith('aws.partner/saasus.io/')
    ? html`<small title="${text}">SaaSus partner event</small>`
    : html`<small>${text}</small>`;
};

/** What a license's status is in the bridge (its Licenses item), for a purchase. */
const bridgeLicense = (data: Snapshot, licenseArn: string) =>
  data.licenses.find((license) => license.licenseArn === licenseArn || license.licenseKey === licenseArn);

const eventLabel = (kind: MarketplaceEventKind) =>
  marketplaceEventKinds.find((candidate) => candidate.kind === kind)?.label ?? kind;

/** A plan by the name the config gives it (its dimension), or undefined for an unknown plan id. */
const planLabel = (plans: Product['plans'], planId: unknown): string | undefined => {
  const dimension = Object.entries(plans.byDimension).find(([, id]) => id === planId)?.[0];
  if (dimension) return dimension;
  if (planId === plans.revokedPlanId) return 'revoked plan';
  if (planId === plans.defaultPlanId) return 'default plan';
  return undefined;
};

/** A license by its company (SaaSus tenant) or buyer account; the ARN stays in the tooltip. */
const licenseName = (data: Snapshot, licenseArn: unknown): Html => {
  const arn = String(licenseArn ?? '');
  const license = bridgeLicense(data, arn);
  const tenant = data.saasus.tenants.find((candidate) => candidate.id === license?.tenantId);
  const account =
    license?.customerAwsAccountId ??
    data.agreements.find((agreement) => agreement.licenseArn === arn)?.customerAwsAccountId;
  if (tenant?.name) return html`<span title="${arn}">${tenant.name}</span>`;
  return account ? html`<span title="${arn}">account ${String(account)}</span>` : short(arn, 10);
};

/** Subscriptions carry no entitlement, so there is no plan to pick: say which plan the buyer gets. */
const subscriptionPlanNote = (sandbox: Sandbox): Html => {
  const { plans } = sandboxProduct(sandbox.config);
  const name = planLabel(plans, plans.defaultPlanId) ?? short(plans.defaultPlanId, 8);
  return html`<p class="note" data-plan-note>Plan: no choice here. A subscription listing grants no entitlement,
so every new subscriber gets the default plan (<strong>${name}</strong>). Change it afterwards under
<em>Change a tenant's plan by hand</em>.</p>${hidden('dimension', Object.keys(plans.byDimension)[0] ?? '')}`;
};

export const buyerPage = (sandbox: Sandbox, data: Snapshot, presetAccounts: readonly string[]): Html => {
  const back = '/';
  const { config } = sandbox;
  const accounts = [
    ...presetAccounts.map((account) => ({ value: account, label: account })),
    { value: 'new', label: 'New account (random id)' },
  ];
  const subscribe = html`<section class="card wide">
<h2>1 · Subscribe on AWS Marketplace</h2>
<p class="note">Pick a buyer and a plan. The Marketplace emulator creates a license for that AWS account and a
registration token; your browser then POSTs <code>x-amzn-marketplace-token</code> to the local fulfillment URL
${sandbox.fulfillmentUrl ? html`<code>${sandbox.fulfillmentUrl}</code>` : ''} exactly as AWS Marketplace would, and lands on the registration page.
Pricing model: <strong>${sandboxProduct(config).pricingModel}</strong> (${sandboxProduct(config).pricingModel === 'subscription' ? 'no entitlements; new subscribers get the default plan' : 'the plan is granted as an entitlement'}).</p>
${
  sandbox.fulfillmentUrl
    ? html`<form method="post" action="/actions/subscribe" class="stack">
${select('account', accounts, presetAccounts[0], 'Buyer AWS account')}
${
  config.products.length > 1
    ? select(
        'product',
        config.products.map((product) => ({
          value: product.productCode,
          label: `${product.productCode} (${product.pricingModel})`,
        })),
        config.products[0]?.productCode,
        'Listing (another listing takes its own first plan)',
      )
    : ''
}
${
  sandboxProduct(config).pricingModel === 'subscription'
    ? subscriptionPlanNote(sandbox)
    : select('dimension', planOptions(sandbox), undefined, 'Dimension / plan')
}
<label class="check"><input type="checkbox" name="freeTrial" value="1"> Free-trial offer</label>
<label class="check"><input type="checkbox" name="emitEvents" value="1" checked> Also emit Purchase Agreement Created + License Updated (as AWS does at purchase)</label>
<button type="submit" class="primary">Subscribe and set up the account</button>
</form>`
    : html`<p class="empty">The stack has no HTTP API yet, so there is no fulfillment URL to send buyers to.</p>`
}
</section>`;

  const purchases = html`<section class="card wide">
<h2>2 · What AWS does later</h2>
<p class="note">Each button emits the event AWS Marketplace sends (source <code>aws.agreement-marketplace</code>, default bus),
routed through the stack's rules like the real thing. <em>Amend</em> also sends License Updated, as AWS does when the
entitlements change; deprovisioning also ends the license in the Marketplace emulator (BatchMeterUsage then refuses it).</p>
${table(
  data.agreements,
  [
    { label: 'Buyer', cell: (row) => row.customerAwsAccountId },
    { label: 'License', cell: (row) => short(row.licenseArn, 14) },
    { label: 'Agreement', cell: (row) => short(row.agreementId, 10) },
    { label: 'Dimension', cell: (row) => row.dimension },
    {
      label: 'Marketplace',
      cell: (row) => {
        const status = data.marketplaceLicenses.find(
          (license) => license.licenseArn === row.licenseArn,
        )?.status;
        return badge(String(status ?? '?'), statusTone(status));
      },
    },
    {
      label: 'Bridge',
      cell: (row) => {
        const license = bridgeLicense(data, row.licenseArn);
        const tenant = data.saasus.tenants.find((candidate) => candidate.id === license?.tenantId);
        return license
          ? html`${badge(String(license.status ?? '?'), statusTone(license.status))}${tenant ? html`<br><small>${tenant.name}</small>` : ''}`
          : html`<span class="empty">no record yet</span>`;
      },
    },
    { label: 'Events sent', cell: (row) => row.emitted.length },
    {
      label: 'Emit',
      className: 'grow',
      cell: (row) => {
        // What AWS no longer sends for a license that ended or was deprovisioned.
        const marketplaceStatus = data.marketplaceLicenses.find(
          (license) => license.licenseArn === row.licenseArn,
        )?.status;
        const bridgeStatus = bridgeLicense(data, row.licenseArn)?.status;
        const gone = marketplaceStatus === 'ended' ? 'AWS deprovisioned this license' : undefined;
        const ended =
          gone ??
          (bridgeStatus === 'ended' || bridgeStatus === 'ending' ? 'the agreement has ended' : undefined);
        const emit = (kind: MarketplaceEventKind, fields: Html[] = [], tone = '', disabledBecause?: string) =>
          actionForm(
            '/actions/marketplace-event',
            back,
            [hidden('licenseArn', row.licenseArn), hidden('kind', kind), ...fields],
            eventLabel(kind),
            tone,
            disabledBecause,
          );
        const otherDimension =
          Object.keys(sandboxProduct(config).plans.byDimension).find(
            (dimension) => dimension !== row.dimension,
          ) ?? row.dimension;
        return [
          html`<div>`,
          emit('agreement-created', [], '', ended),
          emit('license-updated', [], '', ended),
          actionForm(
            '/actions/marketplace-event',
            back,
            [
              hidden('licenseArn', row.licenseArn),
              hidden('kind', 'agreement-amended'),
              hidden('licenseUpdated', '1'),
              // The agreement's dimension changes for every listing; on a subscription listing it
              // grants no plan (see the note above), which the scenario shows.
              select('dimension', planOptions(sandbox), otherDimension),
            ],
            'Amend',
            '',
            ended,
          ),
          emit('agreement-renewed', [], '', ended),
          html`</div><div>`,
          emit(
            'agreement-ended',
            [
              select(
                'endStatus',
                ['CANCELLED', 'EXPIRED', 'TERMINATED', 'REPLACED', 'RENEWED'].map((value) => ({
                  value,
                  label: value,
                })),
              ),
            ],
            'danger',
            ended,
          ),
          emit('license-deprovisioned', [], 'danger', gone),
          actionForm(
            '/actions/setup-again',
            back,
            hidden('licenseArn', row.licenseArn),
            'Set up the account again',
            '',
            ended,
          ),
          ...(sandbox.model.subscriptions.length > 0
            ? [
                actionForm(
                  '/actions/legacy-sns',
                  back,
                  [
                    hidden('licenseArn', row.licenseArn),
                    select(
                      'action',
                      legacySnsActions.map((action) => ({ value: action, label: action })),
                    ),
                  ],
                  'Send legacy SNS notification',
                ),
              ]
            : []),
          html`</div>`,
        ];
      },
    },
  ],
  'No purchases yet: subscribe above.',
)}
</section>`;

  const tenants = data.saasus.tenants;
  const tenantOptions = tenants.map((tenant) => ({
    value: String(tenant.id),
    label: `${String(tenant.name)} (${String(tenant.id).slice(0, 8)}…)`,
  }));
  const userOptions = tenants.flatMap((tenant) =>
    tenant.users.map((user) => ({
      value: `${String(tenant.id)}|${String(user.id)}`,
      label: `${String(user.email ?? user.id)} in ${String(tenant.name)}`,
    })),
  );
  const { plans } = sandboxProduct(config);
  const planChoices = [
    ...Object.entries(plans.byDimension).map(([dimension, planId]) => ({
      value: planId,
      label: `${dimension} plan`,
    })),
    ...(plans.revokedPlanId ? [{ value: plans.revokedPlanId, label: 'revoked plan' }] : []),
    { value: '', label: 'no plan (remove)' },
  ];
  const units = sandboxProduct(config).meteringUnits.map((unit) => ({
    value: unit.saasusUnit,
    label: `${unit.saasusUnit} (${unit.aggregation})`,
  }));
  const saas = html`<section class="card wide">
<h2>3 · What the SaaS does (SaaSus API)</h2>
<p class="note">These call the SaaSus emulator's API, which emits SaaSus partner events routed like the real ones
(bus <code>${sandbox.partnerBusName}</code>).</p>
${
  tenants.length === 0
    ? html`<p class="empty">No SaaSus tenants yet: subscribe and finish the registration first.</p>`
    : html`<h3>Record usage</h3>
${
  units.length === 0
    ? html`<p class="empty">The config meters no SaaSus units.</p>`
    : html`<form method="post" action="/actions/usage" class="stack">${hidden('back', back)}
${select('tenantId', tenantOptions, undefined, 'Tenant')}
${select('unit', units, undefined, 'Metering unit')}
${select(
  'method',
  ['add', 'direct', 'sub'].map((value) => ({ value, label: value })),
  'add',
  'Method',
)}
<label><span>Count</span><input type="number" name="count" min="0" value="10" required></label>
<button type="submit">Record usage now</button></form>`
}
<h3>Change a tenant's plan by hand</h3>
<form method="post" action="/actions/change-plan" class="stack">${hidden('back', back)}
${select('tenantId', tenantOptions, undefined, 'Tenant')}
${select('planId', planChoices, undefined, 'Plan')}
<button type="submit">Change plan now</button></form>
<h3>Delete a tenant user</h3>
${
  userOptions.length === 0
    ? html`<p class="empty">No tenant users.</p>`
    : html`<form method="post" action="/actions/delete-tenant-user" class="stack">${hidden('back', back)}
${select('tenantUser', userOptions, undefined, 'User')}
<button type="submit" class="danger">Delete from tenant</button></form>`
}`
}
</section>`;

  return html`<div class="grid">${subscribe}${purchases}${saas}</div>`;
};

const availabilityBadge = (availability: Snapshot['functions'][number]['availability']) =>
  availability.available
    ? badge('available', 'ok')
    : html`${badge('not available yet', 'warn')} <small>${availability.reason}</small>`;

/** The sign-up saga's progress on a license: the steps done, in order. */
const provisioningSteps = ['saasUser', 'tenant', 'plan', 'tenantUser', 'role', 'directoryUser'] as const;
const provisioningSummary = (provisioning: unknown): Html => {
  if (!provisioning || typeof provisioning !== 'object')
    return html`<span class="empty">not registered</span>`;
  const done = provisioningSteps.filter((step) => step in provisioning);
  const title = JSON.stringify(provisioning).slice(0, 4000);
  return 'completed' in provisioning
    ? html`<span title="${title}">${badge('registered', 'ok')}</span>`
    : html`<span title="${title}">${badge('in progress', 'warn')} <small>${done.join(', ') || 'started'}</small></span>`;
};

/** What the dashboard's query string narrows down. */
export interface DashboardFilter {
  /** Show only routed events of this source (`?events=`). */
  readonly eventSource?: string | undefined;
}

export const dashboardBody = (sandbox: Sandbox, data: Snapshot, filter: DashboardFilter = {}): Html => {
  const back = '/dashboard';
  const { plans } = sandboxProduct(sandbox.config);
  const planName = (planId: unknown): Html => {
    if (!planId) return html`<span class="empty">no plan</span>`;
    const label = planLabel(plans, planId);
    return label ? html`<span title="${String(planId)}">${label}</span>` : short(planId, 8);
  };

  const clock = html`<section class="card">
<h2>Simulated clock</h2>
<p><strong>${time(data.clock.now)}</strong> UTC ${data.clock.frozen ? badge('frozen', 'warn') : badge('running', 'ok')}</p>
${actionForm('/actions/clock/advance', back, hidden('minutes', 60), 'Advance one hour', 'primary')}
${actionForm('/actions/clock/advance', back, hidden('minutes', 5), '+5 minutes')}
${actionForm('/actions/clock/advance', back, hidden('minutes', 1440), '+1 day')}
${actionForm('/actions/clock/toggle', back, [], data.clock.frozen ? 'Let it run' : 'Freeze')}
<h3>Schedules</h3>
${table(
  data.schedules,
  [
    { label: 'Schedule', cell: (row) => row.name },
    { label: 'Expression', cell: (row) => html`<code>${row.expression}</code> ${row.timeZone}` },
    { label: 'Next run', cell: (row) => (row.problem ? badge(row.problem, 'bad') : time(row.next)) },
  ],
  'The stack has no schedules yet.',
)}
</section>`;

  const functions = html`<section class="card">
<h2>Functions</h2>
${table(
  data.functions,
  [
    {
      label: 'Function',
      cell: (row) => html`<strong>${row.label}</strong><br><small>${row.logicalId}</small>`,
    },
    { label: 'Entry', cell: (row) => html`<code>${row.entry ?? '—'}</code>` },
    { label: 'Status', cell: (row) => availabilityBadge(row.availability) },
    { label: 'Warm', cell: (row) => row.warm },
  ],
  'The template has no functions.',
)}
${actionForm('/actions/reload-handlers', back, [], 'Reload handler sources')}
<h3>Rules</h3>
${table(
  data.rules,
  [
    { label: 'Rule', cell: (row) => row.name },
    { label: 'Bus', cell: (row) => busLabel(sandbox, row.busName) },
    { label: 'Pattern', className: 'grow', cell: (row) => json(row.pattern, 140) },
  ],
  'The stack has no event rules yet.',
)}
</section>`;

  const licenses = html`<section class="card wide">
<h2>Licenses <small>(Licenses table)</small></h2>
${table(
  data.licenses,
  [
    { label: 'License', cell: (row) => short(row.licenseKey, 14) },
    { label: 'Product', cell: (row) => String(row.productCode ?? '—') },
    { label: 'Account', cell: (row) => row.customerAwsAccountId ?? '—' },
    { label: 'Status', cell: (row) => badge(String(row.status ?? '?'), statusTone(row.status)) },
    {
      label: 'Tenant',
      cell: (row) => {
        const tenant = data.saasus.tenants.find((candidate) => candidate.id === row.tenantId);
        if (!row.tenantId) return '—';
        return tenant
          ? html`${tenant.name}<br><small>${short(row.tenantId, 8)}</small>`
          : short(row.tenantId, 8);
      },
    },
    { label: 'Version', cell: (row) => row.version },
    { label: 'Updated', cell: (row) => time(row.updatedAt) },
    { label: 'Sign-up', cell: (row) => provisioningSummary(row.provisioning) },
  ],
  'No license records yet.',
)}
</section>`;

  const saasus = html`<section class="card">
<h2>SaaSus</h2>
<h3>Tenants</h3>
${table(
  data.saasus.tenants,
  [
    { label: 'Tenant', cell: (row) => html`${String(row.name)}<br><small>${short(row.id, 12)}</small>` },
    { label: 'Plan', cell: (row) => planName(row.plan_id) },
    {
      label: 'Users',
      cell: (row) => row.users.map((user) => html`<div>${String(user.email ?? user.id)}</div>`),
    },
  ],
  'No tenants yet.',
)}
<h3>Metering counts (the usage source)</h3>
${table(
  [...data.saasus.meteringCounts].reverse().slice(0, 20),
  [
    { label: 'Tenant', cell: (row) => row.tenantName },
    { label: 'Unit', cell: (row) => row.metering_unit_name },
    { label: 'At', cell: (row) => time(row.at) },
    { label: 'Count', cell: (row) => row.count },
  ],
  'No usage recorded yet.',
)}
<h3>SaaS users</h3>
${table(
  data.saasus.saasUsers,
  [
    { label: 'Email', cell: (row) => row.email },
    { label: 'Id', cell: (row) => short(row.id, 12) },
  ],
  'No SaaS users yet.',
)}
</section>`;

  const idoperation = html`<section class="card">
<h2>iDoperation users</h2>
${
  sandbox.emulators.idoperation
    ? table(
        data.idoperationUsers,
        [
          { label: 'Login', cell: (row) => row.login_id },
          { label: 'Name', cell: (row) => row.name },
          {
            label: 'Services',
            // iDoperation's service codes (README, idoperation.servicesByPlan): 1 = PAM, 2 = EPM.
            cell: (row) =>
              row.services
                .map((code: number) => ({ 1: 'PAM', 2: 'EPM' })[code] ?? `service ${code}`)
                .join(', '),
          },
          {
            label: 'State',
            cell: (row) => (row.is_disabled ? badge('disabled', 'bad') : badge('enabled', 'ok')),
          },
        ],
        'No directory users yet.',
      )
    : html`<p class="empty">The config has no iDoperation section.</p>`
}
</section>`;

  const metering = html`<section class="card wide">
<h2>Metering: ledger vs. what Marketplace billed</h2>
<div class="grid">
<div><h3>Metering ledger (MeteringLedger table)</h3>
${table(
  data.meteringLedger,
  [
    { label: 'License', cell: (row) => licenseName(data, row.licenseKey) },
    { label: 'Product', cell: (row) => String(row.productCode ?? '—') },
    { label: 'Dimension', cell: (row) => String(row.dimension ?? '') },
    { label: 'Hour', cell: (row) => time(row.usageHour) },
    { label: 'Quantity', cell: (row) => row.quantity ?? '—' },
    {
      label: 'State',
      cell: (row) =>
        row.pendingShard ? badge('pending', 'warn') : badge(String(row.status ?? 'sent'), 'ok'),
    },
  ],
  'No ledger records yet.',
)}</div>
<div><h3>Billed by the Marketplace emulator (BatchMeterUsage)</h3>
${table(
  // In the ledger's order (license, hour, dimension), so the two tables read side by side.
  [...data.billedRecords].sort(
    (a, b) =>
      a.licenseArn.localeCompare(b.licenseArn) ||
      a.hour.getTime() - b.hour.getTime() ||
      a.dimension.localeCompare(b.dimension),
  ),
  [
    { label: 'License', cell: (row) => licenseName(data, row.licenseArn) },
    { label: 'Dimension', cell: (row) => row.dimension },
    { label: 'Hour', cell: (row) => time(row.hour.toISOString()) },
    { label: 'Quantity', cell: (row) => row.quantity },
    { label: 'Received', cell: (row) => time(row.receivedAt.toISOString()) },
  ],
  'Nothing billed yet.',
)}</div>
</div>
</section>`;

  const events = html`<section class="card wide">
<h2>Events</h2>
<div class="grid">
<div><h3>Domain events published (${sandbox.domainBusName ?? 'no domain bus'})</h3>
${table(
  [...data.domainEvents].reverse().slice(0, 30),
  [
    { label: 'Time', cell: (row) => time(row.time) },
    { label: 'Detail-type', cell: (row) => row['detail-type'] },
    { label: 'Detail', cell: (row) => json(row.detail, 100) },
  ],
  'No domain events yet.',
)}</div>
<div><h3>Routed events (all buses)</h3>
${eventSourceFilter(data, filter.eventSource)}
${table(
  data.routedEvents
    .filter((row) => !filter.eventSource || row.event.source === filter.eventSource)
    .reverse()
    .slice(0, 30),
  [
    { label: 'Received', cell: (row) => time(row.receivedAt) },
    { label: 'Bus', cell: (row) => busLabel(sandbox, row.busName) },
    {
      label: 'Event',
      cell: (row) => html`${String(row.event['detail-type'] ?? '')}<br>${sourceLabel(row.event.source)}`,
    },
    {
      label: 'Rules',
      cell: (row) =>
        row.matchedRules.length > 0 ? row.matchedRules.join(', ') : html`<span class="empty">none</span>`,
    },
  ],
  'No events yet.',
)}</div>
</div>
</section>`;

  // Lambda's retries of an asynchronous invocation keep its request id.
  const succeededRequests = new Set(data.invocations.filter((row) => row.ok).map((row) => row.requestId));
  const invocations = html`<section class="card wide">
<h2>Recent invocations</h2>
${table(
  [...data.invocations].sort((a, b) => b.at.localeCompare(a.at)).slice(0, 25),
  [
    { label: 'Time', cell: (row) => time(row.at) },
    {
      label: 'Function',
      cell: (row) => sandbox.functions.get(row.functionLogicalId)?.label ?? row.functionLogicalId,
    },
    { label: 'Trigger', className: 'grow', cell: (row) => row.trigger },
    { label: 'Duration', cell: (row) => `${Math.round(row.durationMs)} ms` },
    {
      label: 'Outcome',
      cell: (row) => invocationOutcome(row, succeededRequests),
    },
  ],
  'No invocations yet.',
)}
</section>`;

  const deadLetters = html`<section class="card wide">
<h2>Dead letters <small>(handler failures after retries)</small></h2>
${table(
  data.deadLetters,
  [
    { label: 'Time', cell: (row) => time(row.at) },
    { label: 'From', cell: (row) => html`${row.origin} ${row.source}` },
    { label: 'To', cell: (row) => row.target },
    { label: 'Attempts', cell: (row) => row.attempts },
    { label: 'Error', cell: (row) => html`${badge(row.error.errorType, 'bad')} ${row.error.errorMessage}` },
    { label: 'Payload', cell: (row) => json(row.payload, 80) },
    {
      label: '',
      cell: (row) => [
        actionForm('/actions/dead-letters/redrive', back, hidden('id', row.id), 'Redrive'),
        actionForm('/actions/dead-letters/discard', back, hidden('id', row.id), 'Discard', 'danger'),
      ],
    },
  ],
  'No dead letters.',
)}
<h3>Waiting for the clock</h3>
<p class="note">Retries and messages that become visible again wait for simulated time; advance the clock to run them now.</p>
${table(
  data.waiting,
  [
    { label: 'Due', cell: (row) => time(row.at) },
    { label: 'What', cell: (row) => row.description },
  ],
  'Nothing is waiting.',
)}
${
  data.queues.length > 0
    ? html`<h3>Queues</h3>${table(
        data.queues,
        [
          { label: 'Queue', cell: (row) => row.name },
          { label: 'Messages', cell: (row) => row.messages },
        ],
        '',
      )}`
    : ''
}
</section>`;

  const warnings =
    data.warnings.length > 0
      ? html`<section class="card wide"><h2>Sandbox notes</h2><ul class="plain">${data.warnings.map((warning) => html`<li>${warning}</li>`)}</ul></section>`
      : raw('');

  return html`<div class="grid">${summaryCard(data)}${clock}${functions}${licenses}${saasus}${idoperation}${metering}${events}${invocations}${deadLetters}${warnings}</div>`;
};

/** A failed attempt whose retry (same request id) succeeded is not a failure a person must act on. */
/** An invocation's outcome; a failure whose request later succeeded (a retry) is not shown as a failure. */
export const invocationOutcome = (
  row: Snapshot['invocations'][number],
  succeeded: ReadonlySet<string>,
): Html => {
  if (row.ok) return badge('ok', 'ok');
  const error = html`${row.error?.errorType ?? 'error'}: ${row.error?.errorMessage ?? ''}`;
  return succeeded.has(row.requestId)
    ? html`${badge('retried, then succeeded', 'info')} <small class="muted">${error}</small>`
    : html`${badge(row.error?.errorType ?? 'error', 'bad')} ${row.error?.errorMessage ?? ''}`;
};

/** Links that narrow the routed events to one source; the two-second refresh keeps the query. */
const eventSourceFilter = (data: Snapshot, current: string | undefined): Html => {
  const counts = new Map<string, number>();
  for (const row of data.routedEvents) {
    const source = String(row.event.source ?? '');
    counts.set(source, (counts.get(source) ?? 0) + 1);
  }
  if (counts.size === 0) return raw('');
  const link = (source: string | undefined, label: Html, count: number) =>
    source === current
      ? html`<strong class="filter current" aria-current="true">${label} (${count})</strong>`
      : html`<a class="filter" href="/dashboard${source ? `?events=${encodeURIComponent(source)}` : ''}">${label} (${count})</a>`;
  return html`<nav class="filters" aria-label="Filter events by source">${link(undefined, html`All`, data.routedEvents.length)}${[
    ...counts,
  ].map(([source, count]) => link(source, sourceLabel(source), count))}</nav>`;
};

const hourOf = (value: unknown) => new Date(value instanceof Date ? value : String(value)).toISOString();

/** The dashboard's first card: licenses by state, the ledger against what was billed, usage by hour. */
const summaryCard = (data: Snapshot): Html => {
  const byState = new Map<string, number>();
  for (const license of data.licenses) {
    const state = String(license.status ?? 'unknown');
    byState.set(state, (byState.get(state) ?? 0) + 1);
  }
  const keyOf = (license: unknown, dimension: unknown, hour: unknown) =>
    `${String(license)}|${String(dimension)}|${hourOf(hour)}`;
  const sent = data.meteringLedger.filter((row) => !row.pendingShard);
  const pending = data.meteringLedger.length - sent.length;
  const ledger = new Map(
    sent.map((row) => [keyOf(row.licenseKey, row.dimension, row.usageHour), Number(row.quantity ?? 0)]),
  );
  const billed = new Map<string, number>();
  for (const row of data.billedRecords) {
    const key = keyOf(row.licenseArn, row.dimension, row.hour);
    billed.set(key, (billed.get(key) ?? 0) + row.quantity);
  }
  const differences = [...new Set([...ledger.keys(), ...billed.keys()])].filter(
    (key) => ledger.get(key) !== billed.get(key),
  ).length;
  const total = (values: Iterable<number>) => [...values].reduce((sum, value) => sum + value, 0);

  // The last twelve simulated hours of billed quantity.
  const lastHour = new Date(data.clock.now);
  lastHour.setUTCMinutes(0, 0, 0);
  const hours = Array.from({ length: 12 }, (_, index) =>
    new Date(lastHour.getTime() - (11 - index) * 3_600_000).toISOString(),
  );
  const perHour = hours.map((hour) => ({
    hour,
    quantity: total(data.billedRecords.filter((row) => hourOf(row.hour) === hour).map((row) => row.quantity)),
  }));
  const peak = Math.max(0, ...perHour.map((bar) => bar.quantity));
  const highest = Math.max(1, peak);

  return html`<section class="card wide summary" data-summary>
<h2>At a glance</h2>
<div class="glance">
<div><h3>Licenses by state</h3>${
    byState.size === 0
      ? html`<p class="empty">No licenses yet.</p>`
      : html`<p data-license-states>${[...byState].map(([state, count]) => html`${badge(`${state} ${count}`, statusTone(state))} `)}</p>`
  }</div>
<div><h3>Ledger vs. billed</h3>
<p data-billing-match>${
    differences === 0
      ? badge(ledger.size === 0 ? 'nothing metered yet' : 'match', 'ok')
      : badge(`${differences} hour${differences === 1 ? '' : 's'} differ`, 'bad')
  }<br><small>ledger ${ledger.size} records, quantity ${total(ledger.values())} · billed ${billed.size} records, quantity ${total(billed.values())}${pending > 0 ? ` · ${pending} pending` : ''}</small></p></div>
<div><h3>Billed per hour (last 12 h, peak ${peak})</h3>
<div class="bars" role="img" aria-label="Billed quantity per hour">${perHour.map(
    (bar) =>
      html`<span class="bar" title="${bar.hour.slice(11, 16)} UTC: ${bar.quantity}" style="height:${Math.round((bar.quantity / highest) * 100)}%"></span>`,
  )}</div>
<div class="bar-axis"><small>${hours[0]?.slice(11, 16)}</small><small>${hours[11]?.slice(11, 16)}</small></div></div>
</div>
</section>`;
};
