import { BatchMeterUsageCommand, MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { sandboxProduct } from '../listing.js';
import { PRESET_BUYER_ACCOUNTS } from '../runner.js';
import type { Check, PageResponse, Scenario } from '../scenario.js';
import {
  EXPECTED_FAILURE,
  flashOf,
  formWith,
  HOUR_MS,
  headingOf,
  MINUTE_MS,
  type State,
  storyTools,
} from './story.js';

/**
 * The whole life of one purchase, driven through the buyer simulator and the dashboard as a person
 * would, with every expectation read from the dashboard's JSON (`/api/state`) and the emulators:
 *
 * subscribe (token, fulfillment POST, 303, registration page) → the purchase events AWS sends
 * (Purchase Agreement Created + License Updated; the agreement event may arrive before its license
 * is known and succeeds on Lambda's retry) → register → usage in SaaSus → "Advance one hour" bills
 * it → amend to the other plan → end the agreement (final flush of the partial hour) → License
 * Deprovisioned (revoked) → metering has stopped and AWS refuses usage (CustomerNotSubscribed).
 *
 * Written for a metered contract listing (`config/example-contract-with-consumption.json`, where an
 * amendment changes the entitlement and so the SaaSus plan); with a subscription listing
 * (`--config config/example.json`) the amendment is expected to leave the default plan alone.
 */

type LicenseRow = State['licenses'][number];
type LedgerRow = State['meteringLedger'][number];

/** What billing should show: one row per dimension and hour, as the ledger and AWS each record it. */
const billedRow = (row: { dimension: string; hour: string; quantity: number; meteringRecordId?: string }) =>
  `${row.hour} ${row.dimension} ${row.quantity} ${row.meteringRecordId ?? '(no record id)'}`;

export const fullLifecycle: Scenario = {
  name: 'full-lifecycle',
  description:
    'subscribe → register → usage → "Advance one hour" bills it → amend → end (final flush) → deprovision → metering stopped',
  configFile: 'config/example-contract-with-consumption.json',
  async run(context) {
    const { sandbox, step } = context;
    const { config } = sandbox;
    const product = sandboxProduct(config);
    const pricing = product.pricingModel;
    const contract = pricing !== 'subscription';
    const dimensions = Object.keys(product.plans.byDimension);
    const [firstDimension = '', secondDimension = firstDimension] = dimensions;
    const sumUnits = product.meteringUnits.filter((unit) => unit.aggregation === 'sum');
    const gaugeUnits = product.meteringUnits.filter((unit) => unit.aggregation === 'gauge');
    const account = PRESET_BUYER_ACCOUNTS[0];
    const registration = {
      tenantName: 'Lifecycle Labs',
      adminEmail: 'ada@lifecycle.example',
      adminName: 'Ada Lifecycle',
    };

    const { state, buyer, operator, act } = storyTools(context);
    const advanceOneHour = async () =>
      act(operator, formWith(await operator.get('/dashboard'), '/actions/clock/advance', { minutes: '60' }));

    let licenseArn = '';
    let agreementId = '';
    let tenantId = '';
    let registrationPage: PageResponse | undefined;
    /** The hour usage is first recorded in; the next one is the partial hour the final flush reports. */
    let firstHour = 0;
    const license = (data: State): LicenseRow | undefined =>
      data.licenses.find((row) => row.licenseKey === licenseArn);
    const ledgerOf = (data: State) =>
      data.meteringLedger
        .filter((row: LedgerRow) => row.licenseKey === licenseArn)
        .map((row) => ({
          dimension: String(row.dimension),
          hour: String(row.usageHour),
          quantity: Number(row.quantity),
          status: String(row.status),
          ...(typeof row.meteringRecordId === 'string' ? { meteringRecordId: row.meteringRecordId } : {}),
        }));
    const billedOf = (data: State) =>
      data.billedRecords
        .filter((row) => row.licenseArn === licenseArn)
        .map((row) => ({
          dimension: row.dimension,
          hour: row.hour,
          quantity: row.quantity,
          meteringRecordId: row.meteringRecordId,
        }));
    /** The ledger holds exactly what the Marketplace emulator billed, record ids included. */
    const checkLedgerIsBilled = (check: Check, data: State) => {
      const ledger = ledgerOf(data);
      check(
        ledger.every((row) => row.status === 'accepted'),
        'every ledger record was accepted by BatchMeterUsage',
        ledger,
      );
      check.equal(
        ledger.map(billedRow).sort(),
        billedOf(data).map(billedRow).sort(),
        'the metering ledger equals what the Marketplace emulator billed',
      );
    };
    const expectedBilling = (hour: number, sums: number, gauges: number) =>
      [
        ...sumUnits.map((unit) => ({ dimension: unit.dimension, quantity: sums })),
        ...gaugeUnits.map((unit) => ({ dimension: unit.dimension, quantity: gauges })),
      ]
        .map((row) => `${new Date(hour).toISOString()} ${row.dimension} ${row.quantity}`)
        .sort();
    const billedIn = (data: State, hour: number) =>
      billedOf(data)
        .filter((row) => row.hour === new Date(hour).toISOString())
        .map((row) => `${row.hour} ${row.dimension} ${row.quantity}`)
        .sort();
    const domainEvents = (data: State) =>
      data.domainEvents
        .filter((event) => JSON.stringify(event.detail).includes(licenseArn))
        .map((event) => event['detail-type']);

    await step('the story starts at twenty past an hour, on a metered listing', async (check) => {
      if (pricing === 'contract' || product.meteringUnits.length === 0) {
        throw new Error(
          `The story meters usage: run it with a metered listing (pricing model "${pricing}", ${product.meteringUnits.length} metering units); the default is config/example-contract-with-consumption.json`,
        );
      }
      check(dimensions.length >= 2, 'the listing has two plans to amend between', dimensions);
      check(sumUnits.length > 0 && gaugeUnits.length > 0, 'the listing meters a sum and a gauge unit');
      // Usage then lands well inside one hour, and "Advance one hour" passes the hourly run.
      const now = sandbox.clock.nowMs();
      await sandbox.advanceClock(Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS + 20 * MINUTE_MS - now);
      await sandbox.settle();
      check(
        new Date(sandbox.clock.nowMs()).getUTCMinutes() === 20,
        'the simulated clock stands at HH:20',
        sandbox.clock.now(),
      );
    });

    await step(
      'a buyer subscribes on the buyer simulator and lands on the registration page',
      async (check) => {
        const home = await buyer.get('/');
        check(home.status === 200, 'GET / answers 200', home.status);
        const subscribe = formWith(home, '/actions/subscribe');
        const before = new Set((await state()).agreements.map((agreement) => agreement.licenseArn));
        const handOff = await buyer.submit(subscribe, {
          account,
          dimension: firstDimension,
          emitEvents: '1',
        });
        const tokenPost = handOff.forms.find((form) => 'x-amzn-marketplace-token' in form.fields);
        check.equal(tokenPost?.action, sandbox.fulfillmentUrl, 'the page POSTs to the fulfillment URL');
        const token = tokenPost?.fields['x-amzn-marketplace-token'] ?? '';
        check(/^[A-Za-z0-9+/]{43}=$/.test(token), 'with a freshly minted registration token', token);

        const data = await state();
        const agreement = data.agreements.find((candidate) => !before.has(candidate.licenseArn));
        licenseArn = agreement?.licenseArn ?? '';
        agreementId = agreement?.agreementId ?? '';
        check(
          agreement?.customerAwsAccountId === account,
          `the purchase is the buyer ${account}'s`,
          agreement,
        );
        check.equal(agreement?.dimension, firstDimension, `the buyer chose ${firstDimension}`);
        check.equal(
          data.marketplaceLicenses.find((candidate) => candidate.licenseArn === licenseArn)?.status,
          'active',
          'the Marketplace emulator holds an active license for it',
        );
        if (!tokenPost || !licenseArn)
          throw new Error('The subscription did not produce a token and a license');

        registrationPage = await buyer.submit(tokenPost);
        const [first] = registrationPage.redirects;
        check.equal(first?.status, 303, 'the fulfillment URL answers the token POST with 303');
        check(
          new URL(first?.location ?? '', first?.from ?? sandbox.url).pathname.endsWith('/register'),
          'to the registration page',
          first,
        );
        check(
          registrationPage.status === 200 && headingOf(registrationPage) === 'Set up your account',
          'the registration page is shown',
          { status: registrationPage.status, heading: headingOf(registrationPage) },
        );
        check(
          [registrationPage.url, ...registrationPage.redirects.map((hop) => hop.location)].every(
            (url) => !url.includes(token),
          ),
          'the token appears in no URL',
        );
        check(buyer.cookies.size === 1, 'the browser holds the registration session cookie', [
          ...buyer.cookies.keys(),
        ]);
      },
    );

    await step("AWS Marketplace's purchase events activate the license", async (check) => {
      const routed = sandbox.router
        .history()
        .filter((entry) => entry.busName === 'default' && JSON.stringify(entry.event).includes(agreementId));
      check.equal(
        routed.map((entry) => entry.event['detail-type']),
        ['Purchase Agreement Created - Proposer', 'License Updated - Manufacturer'],
        'Purchase Agreement Created and License Updated went onto the default bus',
      );
      check(
        routed.every((entry) => entry.matchedRules.length > 0),
        "both matched the stack's Marketplace rule",
        routed.map((entry) => entry.matchedRules),
      );
      // The agreement event names no license; if it came before License Updated it failed with
      // LicenseNotLocatedError and Lambda retries it one and two minutes later.
      const dashboard = await operator.get('/dashboard');
      await act(operator, formWith(dashboard, '/actions/clock/advance', { minutes: '5' }));
      const data = await state();
      const row = license(data);
      check.equal(row?.status, 'active', 'the license is active');
      const lifecycle = (row?.lifecycle ?? {}) as {
        agreements?: Record<string, { created?: unknown }>;
        licenseUpdatedAt?: string;
        entitlements?: { dimensions?: string[] };
      };
      check(
        lifecycle.agreements?.[agreementId]?.created !== undefined,
        'Purchase Agreement Created was applied (after a retry if it arrived before its license was known)',
        lifecycle,
      );
      check(lifecycle.licenseUpdatedAt !== undefined, 'License Updated was applied', lifecycle);
      if (contract) {
        check.equal(
          lifecycle.entitlements?.dimensions,
          [firstDimension],
          `the entitlements read at activation hold ${firstDimension}`,
        );
      }
      check(
        domainEvents(data).includes('License Activated'),
        'License Activated was published',
        domainEvents(data),
      );
      check(data.waiting.length === 0, 'no retry is left waiting for the clock', data.waiting);
      check(data.deadLetters.length === 0, 'nothing was dead-lettered', data.deadLetters);
    });

    await step('the buyer registers: tenant, admin user, plan and directory user', async (check) => {
      if (!registrationPage) throw new Error('No registration page');
      const done = await act(buyer, formWith(registrationPage, '/register'), registration);
      check.equal(headingOf(done), 'Your account is ready', 'the finish page says the account is ready');
      check(done.links.includes(config.saasus.signInUrl), 'and links to the SaaS sign-in', done.links);
      const data = await state();
      const tenant = data.saasus.tenants.find((candidate) => candidate.name === registration.tenantName);
      tenantId = tenant?.id ?? '';
      const plan = contract ? product.plans.byDimension[firstDimension] : product.plans.defaultPlanId;
      check(tenant !== undefined, `SaaSus has the tenant "${registration.tenantName}"`, data.saasus.tenants);
      check.equal(tenant?.plan_id, plan, `on the ${contract ? firstDimension : 'default'} plan`);
      check(
        JSON.stringify(tenant?.attributes ?? {}).includes(licenseArn),
        'the tenant carries the license in its attributes',
        tenant?.attributes,
      );
      check(
        tenant?.users.some((user) => user.email === registration.adminEmail) ?? false,
        'the admin is a user of the tenant',
        tenant?.users,
      );
      check.equal(license(data)?.tenantId, tenantId, 'the license record names the tenant');
      if (config.idoperation) {
        const directoryUser = data.idoperationUsers.find((user) => user.login_id === registration.adminEmail);
        check.equal(directoryUser?.is_disabled, 0, 'the admin is an enabled iDoperation user');
        check.equal(
          directoryUser?.services,
          config.idoperation.servicesByPlan[plan ?? ''] ?? [1],
          "with the plan's iDoperation services",
        );
      }
      const events = domainEvents(data);
      for (const detailType of ['License Registered', 'Tenant Provisioned'])
        check(events.includes(detailType), `${detailType} was published`, events);
      check(
        license(data)?.meteringBaseline !== undefined,
        'metering saw the license as soon as it could be metered (its usage baseline is captured)',
        license(data),
      );
    });

    await step('the SaaS records usage in SaaSus', async (check) => {
      firstHour = Math.floor(sandbox.clock.nowMs() / HOUR_MS) * HOUR_MS;
      const home = await buyer.get('/');
      const usage = formWith(home, '/actions/usage');
      for (const unit of sumUnits) {
        for (const count of [100, 20]) {
          const page = await act(buyer, usage, {
            tenantId,
            unit: unit.saasusUnit,
            method: 'add',
            count: String(count),
          });
          check(
            flashOf(page).startsWith(`Recorded add ${count} ${unit.saasusUnit}`),
            `the buyer simulator recorded ${count} ${unit.saasusUnit}`,
            flashOf(page),
          );
        }
      }
      for (const unit of gaugeUnits) {
        await act(buyer, usage, { tenantId, unit: unit.saasusUnit, method: 'direct', count: '7' });
      }
      const counts = (await state()).saasus.meteringCounts.filter((record) => record.tenant_id === tenantId);
      const total = (unit: string) =>
        counts
          .filter((record) => record.metering_unit_name === unit)
          .reduce((sum, record) => sum + record.count, 0);
      for (const unit of sumUnits)
        check.equal(total(unit.saasusUnit), 120, `SaaSus counts 120 ${unit.saasusUnit} for the tenant`);
      for (const unit of gaugeUnits)
        check.equal(total(unit.saasusUnit), 7, `SaaSus holds the ${unit.saasusUnit} level 7`);
    });

    await step('"Advance one hour" runs the hourly metering and bills the hour', async (check) => {
      const page = await advanceOneHour();
      check(
        /ran .*@ \d\d:\d\d/.test(flashOf(page)),
        'the dashboard says which schedule ran on the way',
        flashOf(page),
      );
      const data = await state();
      check.equal(
        billedIn(data, firstHour),
        expectedBilling(firstHour, 120, 7),
        'the Marketplace emulator billed the hour: the sum of the usage, the level of each gauge',
      );
      checkLedgerIsBilled(check, data);
    });

    await step('the buyer amends the agreement to the other plan', async (check) => {
      const home = await buyer.get('/');
      // AWS sends Purchase Agreement Amended, and License Updated as the entitlements change.
      const amend = formWith(home, '/actions/marketplace-event', { licenseArn, kind: 'agreement-amended' });
      check.equal(amend.fields.dimension, secondDimension, `the Amend button offers ${secondDimension}`);
      const page = await act(buyer, amend);
      check(
        /Purchase Agreement Amended.*License Updated/.test(flashOf(page)),
        'it emitted Purchase Agreement Amended and License Updated',
        flashOf(page),
      );
      const data = await state();
      check.equal(
        data.agreements.find((agreement) => agreement.licenseArn === licenseArn)?.dimension,
        secondDimension,
        `the agreement is now for ${secondDimension}`,
      );
      const lifecycle = (license(data)?.lifecycle ?? {}) as {
        agreements?: Record<string, { amendedAt?: string }>;
        entitlements?: { dimensions?: string[] };
      };
      check(
        lifecycle.agreements?.[agreementId]?.amendedAt !== undefined,
        'the license record holds the amendment',
        lifecycle,
      );
      const tenant = data.saasus.tenants.find((candidate) => candidate.id === tenantId);
      if (contract) {
        check.equal(
          lifecycle.entitlements?.dimensions,
          [secondDimension],
          `the entitlements hold ${secondDimension}`,
        );
        check.equal(
          tenant?.plan_id,
          product.plans.byDimension[secondDimension],
          `the SaaSus tenant is on the ${secondDimension} plan`,
        );
        check(
          domainEvents(data).includes('Entitlements Changed'),
          'Entitlements Changed was published',
          domainEvents(data),
        );
      } else {
        check.equal(
          tenant?.plan_id,
          product.plans.defaultPlanId,
          'a subscription has no entitlements: the tenant keeps the default plan',
        );
      }
      check.equal(license(data)?.status, 'active', 'the license stays active');
    });

    await step('the agreement ends: the final flush reports the current partial hour', async (check) => {
      const home = await buyer.get('/');
      const usage = formWith(home, '/actions/usage');
      for (const unit of sumUnits)
        await act(buyer, usage, { tenantId, unit: unit.saasusUnit, method: 'add', count: '40' });
      for (const unit of gaugeUnits)
        await act(buyer, usage, { tenantId, unit: unit.saasusUnit, method: 'direct', count: '9' });
      const partialHour = firstHour + HOUR_MS;
      const page = await act(
        buyer,
        formWith(home, '/actions/marketplace-event', { licenseArn, kind: 'agreement-ended' }),
        { endStatus: 'CANCELLED' },
      );
      check(
        flashOf(page).includes('Purchase Agreement Ended'),
        'the buyer simulator emitted Purchase Agreement Ended',
        flashOf(page),
      );
      const data = await state();
      check.equal(license(data)?.status, 'ending', 'the license is ending');
      check(
        domainEvents(data).includes('License Ending'),
        'License Ending was published',
        domainEvents(data),
      );
      check(sandbox.clock.nowMs() < partialHour + HOUR_MS, 'the hour is not over yet', sandbox.clock.now());
      check.equal(
        billedIn(data, partialHour),
        expectedBilling(partialHour, 40, 9),
        "the final flush billed the partial hour's usage",
      );
      checkLedgerIsBilled(check, data);
      const lifecycle = (license(data)?.lifecycle ?? {}) as { finalFlushFor?: string };
      check(lifecycle.finalFlushFor !== undefined, 'the license records the final flush', lifecycle);
    });

    await step('AWS deprovisions the license: access is revoked', async (check) => {
      await sandbox.advanceClock(10 * MINUTE_MS);
      const home = await buyer.get('/');
      await act(
        buyer,
        formWith(home, '/actions/marketplace-event', { licenseArn, kind: 'license-deprovisioned' }),
      );
      const data = await state();
      check.equal(license(data)?.status, 'ended', 'the license has ended');
      check.equal(
        data.marketplaceLicenses.find((candidate) => candidate.licenseArn === licenseArn)?.status,
        'ended',
        'the Marketplace emulator ended the license',
      );
      const tenant = data.saasus.tenants.find((candidate) => candidate.id === tenantId);
      check.equal(
        tenant?.plan_id,
        product.plans.revokedPlanId,
        product.plans.revokedPlanId ? 'the tenant is on the revoked plan' : 'the tenant has no plan',
      );
      check.equal(
        (tenant?.users ?? []).some((user) => user.email === registration.adminEmail),
        config.revocation.tenantUsers === 'keep',
        `the tenant users are ${config.revocation.tenantUsers === 'keep' ? 'kept' : 'removed'} (revocation.tenantUsers)`,
      );
      if (config.idoperation) {
        check.equal(
          data.idoperationUsers.find((user) => user.login_id === registration.adminEmail)?.is_disabled,
          config.revocation.disableDirectoryUsers ? 1 : 0,
          `the iDoperation user is ${config.revocation.disableDirectoryUsers ? 'disabled' : 'left enabled'}`,
        );
      }
      const events = domainEvents(data);
      for (const detailType of ['License Revoked', 'Metering Stopped'])
        check(events.includes(detailType), `${detailType} was published`, events);
    });

    await step('metering has stopped: the next hour bills nothing and AWS refuses usage', async (check) => {
      const before = billedOf(await state())
        .map(billedRow)
        .sort();
      await advanceOneHour();
      const data = await state();
      check.equal(billedOf(data).map(billedRow).sort(), before, 'the next hourly run billed nothing more');
      checkLedgerIsBilled(check, data);

      const client = new MarketplaceMeteringClient({
        region: config.marketplace.apiRegion,
        endpoint: sandbox.emulators.marketplace.url,
        credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
        maxAttempts: 1,
      });
      try {
        const [unit] = product.meteringUnits;
        const output = await client.send(
          new BatchMeterUsageCommand({
            UsageRecords: [
              {
                LicenseArn: licenseArn,
                CustomerAWSAccountId: account,
                Dimension: unit?.dimension,
                Quantity: 1,
                Timestamp: new Date(Math.floor(sandbox.clock.nowMs() / HOUR_MS) * HOUR_MS),
              },
            ],
          }),
        );
        check.equal(
          output.Results?.map((result) => result.Status),
          ['CustomerNotSubscribed'],
          'BatchMeterUsage answers CustomerNotSubscribed for the license',
        );
      } finally {
        client.destroy();
      }

      const failures = data.invocations.filter((invocation) => !invocation.ok);
      check(
        failures.every((invocation) => invocation.error?.errorType === EXPECTED_FAILURE),
        `no handler failed, apart from the agreement event retried as ${EXPECTED_FAILURE}`,
        failures.map((invocation) => invocation.error),
      );
      check(data.deadLetters.length === 0, 'nothing was dead-lettered', data.deadLetters);
      check(data.waiting.length === 0, 'nothing waits for the clock', data.waiting);
      const dashboard = await operator.get('/dashboard');
      const licensesCard = /<h2>Licenses[\s\S]*?<\/section>/.exec(dashboard.html)?.[0] ?? '';
      check(licensesCard.includes('>ended</span>'), 'the dashboard shows the license as ended', licensesCard);
    });
  },
};
