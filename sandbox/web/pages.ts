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
${select('dimension', planOptions(sandbox), undefined, 'Dimension / plan')}
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
        const emit = (kind: MarketplaceEventKind, fields: Html[] = [], tone = '') =>
          actionForm(
            '/actions/marketplace-event',
            back,
            [hidden('licenseArn', row.licenseArn), hidden('kind', kind), ...fields],
            eventLabel(kind),
            tone,
          );
        const otherDimension =
          Object.keys(sandboxProduct(config).plans.byDimension).find(
            (dimension) => dimension !== row.dimension,
          ) ?? row.dimension;
        return [
          html`<div>`,
          emit('agreement-created'),
          emit('license-updated'),
          actionForm(
            '/actions/marketplace-event',
            back,
            [
              hidden('licenseArn', row.licenseArn),
              hidden('kind', 'agreement-amended'),
              hidden('licenseUpdated', '1'),
              select('dimension', planOptions(sandbox), otherDimension),
            ],
            'Amend',
          ),
          emit('agreement-renewed'),
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
          ),
          emit('license-deprovisioned', [], 'danger'),
          actionForm(
            '/actions/setup-again',
            back,
            hidden('licenseArn', row.licenseArn),
            'Set up the account again',
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

export const dashboardBody = (sandbox: Sandbox, data: Snapshot): Html => {
  const back = '/dashboard';
  const { plans } = sandboxProduct(sandbox.config);
  const planName = (planId: unknown): Html => {
    if (!planId) return html`<span class="empty">no plan</span>`;
    const dimension = Object.entries(plans.byDimension).find(([, id]) => id === planId)?.[0];
    if (dimension) return html`<span title="${String(planId)}">${dimension}</span>`;
    if (planId === plans.revokedPlanId) return html`<span title="${String(planId)}">revoked plan</span>`;
    if (planId === plans.defaultPlanId) return html`<span title="${String(planId)}">default plan</span>`;
    return short(planId, 8);
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
    { label: 'Tenant', cell: (row) => (row.tenantId ? short(row.tenantId, 8) : '—') },
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
          { label: 'Services', cell: (row) => row.services.join(', ') },
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
    { label: 'License', cell: (row) => short(row.licenseKey, 10) },
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
    { label: 'License', cell: (row) => short(row.licenseArn, 10) },
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
${table(
  [...data.routedEvents].reverse().slice(0, 30),
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
      cell: (row) =>
        row.ok
          ? badge('ok', 'ok')
          : html`${badge(row.error?.errorType ?? 'error', 'bad')} ${row.error?.errorMessage ?? ''}`,
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

  return html`<div class="grid">${clock}${functions}${licenses}${saasus}${idoperation}${metering}${events}${invocations}${deadLetters}${warnings}</div>`;
};
