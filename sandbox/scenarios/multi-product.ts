import { PRESET_BUYER_ACCOUNTS } from '../runner.js';
import type { Check, Scenario } from '../scenario.js';
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
 * One buyer, two listings of the same SaaS (`config/example-multi-product.json`: a subscription
 * listed first and a contract-with-consumption add-on), driven through the buyer simulator and the
 * dashboard: subscribe to the first and register → subscribe to the add-on with the same AWS account
 * and add it to the same tenant (the registration page offers it) → the tenant keeps the first
 * product's plan (product order is the precedence) → usage of both products' units is billed, each
 * dimension under its own product's license, once per hour → the add-on ends and is deprovisioned
 * → the first product's plan, users and metering carry on.
 */

type BilledRow = State['billedRecords'][number];

export const multiProduct: Scenario = {
  name: 'multi-product',
  description:
    'one buyer, two products → one tenant (plan by precedence) → usage of both billed per license, once an hour → one product ends, the other carries on',
  configFile: 'config/example-multi-product.json',
  async run(context) {
    const { sandbox, step } = context;
    const { config } = sandbox;
    const [main, addon] = config.products;
    if (!main || !addon) {
      throw new Error(
        `The story needs two products (${config.products.length} configured); the default is config/example-multi-product.json`,
      );
    }
    const account = PRESET_BUYER_ACCOUNTS[1] ?? PRESET_BUYER_ACCOUNTS[0];
    const registration = {
      tenantName: 'Two Listings Ltd',
      adminEmail: 'grace@two-listings.example',
      adminName: 'Grace Two',
    };
    const mainPlan = main.plans.defaultPlanId ?? Object.values(main.plans.byDimension)[0];
    const [addonDimension = ''] = Object.keys(addon.plans.byDimension);
    const addonPlan = addon.plans.byDimension[addonDimension];

    const { state, buyer, operator, act } = storyTools(context);
    const advance = async (minutes: number) =>
      act(
        operator,
        formWith(await operator.get('/dashboard'), '/actions/clock/advance', { minutes: String(minutes) }),
      );

    const licenses = { main: '', addon: '' };
    let tenantId = '';
    const hours: number[] = [];
    const currentHour = () => Math.floor(sandbox.clock.nowMs() / HOUR_MS) * HOUR_MS;
    const licenseRow = (data: State, licenseKey: string) =>
      data.licenses.find((row) => row.licenseKey === licenseKey);
    const tenantOf = (data: State) => data.saasus.tenants.find((tenant) => tenant.id === tenantId);
    const billedOf = (data: State, licenseArn: string) =>
      data.billedRecords.filter((row: BilledRow) => row.licenseArn === licenseArn);
    const billedIn = (data: State, licenseArn: string, hour: number) =>
      billedOf(data, licenseArn)
        .filter((row) => row.hour === new Date(hour).toISOString())
        .map((row) => `${row.dimension} ${row.quantity}`)
        .sort();

    /** Every product's dimension under its own license only, and each (license, dimension, hour) billed once. */
    const checkBilling = (check: Check, data: State) => {
      for (const [product, licenseArn] of [
        [main, licenses.main],
        [addon, licenses.addon],
      ] as const) {
        const own = new Set(product.meteringUnits.map((unit) => unit.dimension));
        const rows = billedOf(data, licenseArn);
        check(
          rows.every((row) => own.has(row.dimension)),
          `the ${product.pricingModel} license was billed only its own product's dimensions (${[...own].join(', ')})`,
          rows.map((row) => row.dimension),
        );
        const keys = rows.map((row) => `${row.hour} ${row.dimension}`);
        check(
          new Set(keys).size === keys.length,
          `each dimension and hour of the ${product.pricingModel} license was billed exactly once`,
          keys.sort(),
        );
      }
      const ledger = data.meteringLedger
        .filter((row) => row.licenseKey === licenses.main || row.licenseKey === licenses.addon)
        .map(
          (row) =>
            `${String(row.licenseKey)} ${String(row.usageHour)} ${String(row.dimension)} ${Number(row.quantity)}`,
        )
        .sort();
      const billed = data.billedRecords
        .filter((row) => row.licenseArn === licenses.main || row.licenseArn === licenses.addon)
        .map((row) => `${row.licenseArn} ${row.hour} ${row.dimension} ${row.quantity}`)
        .sort();
      check.equal(ledger, billed, 'the metering ledger equals what the Marketplace emulator billed');
    };

    const record = async (check: Check, unit: string, method: 'add' | 'direct', count: number) => {
      const usage = formWith(await buyer.get('/'), '/actions/usage');
      const page = await act(buyer, usage, { tenantId, unit, method, count: String(count) });
      check(
        flashOf(page).startsWith(`Recorded ${method} ${count} ${unit}`),
        `the SaaS recorded ${method} ${count} ${unit}`,
        flashOf(page),
      );
    };

    /** Subscribes on the buyer simulator; returns the registration page and the new license. */
    const subscribe = async (check: Check, productCode: string) => {
      const home = await buyer.get('/');
      const before = new Set((await state()).agreements.map((agreement) => agreement.licenseArn));
      const handOff = await buyer.submit(formWith(home, '/actions/subscribe'), {
        account,
        product: productCode,
        emitEvents: '1',
      });
      const tokenPost = handOff.forms.find((form) => 'x-amzn-marketplace-token' in form.fields);
      if (!tokenPost) throw new Error('The subscription did not hand a token to the fulfillment URL');
      const page = await buyer.submit(tokenPost);
      // The purchase events: an agreement event before its license is known is retried by Lambda.
      await advance(5);
      const data = await state();
      const agreement = data.agreements.find((candidate) => !before.has(candidate.licenseArn));
      check.equal(agreement?.productCode, productCode, `the buyer bought the listing ${productCode}`);
      check.equal(agreement?.customerAwsAccountId, account, `with the AWS account ${account}`);
      const licenseArn = agreement?.licenseArn ?? '';
      check.equal(licenseRow(data, licenseArn)?.status, 'active', 'the license is active');
      check.equal(
        licenseRow(data, licenseArn)?.productCode,
        productCode,
        'the license record names its product',
      );
      return { page, licenseArn };
    };

    await step('the story starts at twenty past an hour, with two products configured', async (check) => {
      check(main.pricingModel === 'subscription', 'the first product is a subscription', main.pricingModel);
      check(
        addon.pricingModel === 'contract-with-consumption',
        'the second is a contract with consumption',
        addon.pricingModel,
      );
      check(mainPlan !== addonPlan, 'the two products map to different SaaSus plans', {
        mainPlan,
        addonPlan,
      });
      const now = sandbox.clock.nowMs();
      await sandbox.advanceClock(Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS + 20 * MINUTE_MS - now);
      await sandbox.settle();
      check.equal(new Date(sandbox.clock.nowMs()).getUTCMinutes(), 20, 'the simulated clock stands at HH:20');
    });

    await step('the buyer subscribes to the first product and registers', async (check) => {
      const { page, licenseArn } = await subscribe(check, main.productCode);
      licenses.main = licenseArn;
      check.equal(headingOf(page), 'Set up your account', 'the registration page is shown');
      check(
        !page.forms.some((form) => form.fields.attach !== undefined),
        'with no account to add the subscription to yet',
      );
      const done = await act(buyer, formWith(page, '/register'), registration);
      check.equal(headingOf(done), 'Your account is ready', 'the account is ready');
      const data = await state();
      const tenant = data.saasus.tenants.find((candidate) => candidate.name === registration.tenantName);
      tenantId = tenant?.id ?? '';
      check.equal(tenant?.plan_id, mainPlan, "the tenant is on the first product's plan");
      check.equal(licenseRow(data, licenses.main)?.tenantId, tenantId, 'the license names the tenant');
    });

    await step('the same buyer subscribes to the add-on and adds it to the same tenant', async (check) => {
      const tenantsBefore = (await state()).saasus.tenants.length;
      const { page, licenseArn } = await subscribe(check, addon.productCode);
      licenses.addon = licenseArn;
      const offer = formWith(page, '/register', { attach: 'buyer-tenant' });
      check(
        page.html.includes(registration.tenantName),
        "the registration page offers the buyer's account of the first product",
      );
      const done = await act(buyer, offer);
      check.equal(headingOf(done), 'Subscription linked', 'the subscription is added to that account');
      const data = await state();
      check.equal(data.saasus.tenants.length, tenantsBefore, 'no second tenant was created');
      check.equal(
        licenseRow(data, licenses.addon)?.tenantId,
        tenantId,
        'the add-on license names the same tenant',
      );
      check.equal(
        tenantOf(data)?.plan_id,
        mainPlan,
        `the tenant keeps the first product's plan (the first-listed product wins), not the add-on's ${addonPlan}`,
      );
      // Not even for a moment: a later correction (SaaSus plan-drift) would hide a wrong first plan.
      const history = sandbox.emulators.saasus.state
        .tenants()
        .find((tenant) => tenant.id === tenantId)?.plan_histories;
      check(
        !JSON.stringify(history ?? []).includes(String(addonPlan)),
        "the tenant's plan history never held the add-on's plan",
        history,
      );
      check(
        JSON.stringify(tenantOf(data)?.attributes ?? {}).includes(licenses.main),
        "the tenant's license attribute still names the first product's license",
        tenantOf(data)?.attributes,
      );
      check(
        tenantOf(data)?.users.some((user) => user.email === registration.adminEmail) ?? false,
        'the admin is still a user of the tenant',
      );
    });

    // A gauge bills the hour's highest level (the level it entered the hour with counts), so the story raises it.
    const recordBoth = async (check: Check, sums: number, gauges: number, reports: number) => {
      for (const unit of main.meteringUnits)
        await record(
          check,
          unit.saasusUnit,
          unit.aggregation === 'sum' ? 'add' : 'direct',
          unit.aggregation === 'sum' ? sums : gauges,
        );
      for (const unit of addon.meteringUnits) await record(check, unit.saasusUnit, 'add', reports);
    };
    const expected = (product: typeof main, sums: number, gauges: number) =>
      product.meteringUnits
        .map((unit) => `${unit.dimension} ${unit.aggregation === 'sum' ? sums : gauges}`)
        .sort();

    await step('usage of both products is billed, each dimension under its own license', async (check) => {
      hours.push(currentHour());
      await recordBoth(check, 120, 7, 30);
      await advance(60);
      const data = await state();
      const [hour = 0] = hours;
      check.equal(
        billedIn(data, licenses.main, hour),
        expected(main, 120, 7),
        "the first product's license was billed its units",
      );
      check.equal(
        billedIn(data, licenses.addon, hour),
        expected(addon, 30, 30),
        "the add-on's license was billed its units",
      );
      checkBilling(check, data);
    });

    await step(
      'the next hour is billed once more, and the earlier one is not billed again',
      async (check) => {
        hours.push(currentHour());
        await recordBoth(check, 10, 9, 5);
        await advance(60);
        const data = await state();
        const [, hour = 0] = hours;
        check.equal(
          billedIn(data, licenses.main, hour),
          expected(main, 10, 9),
          "the first product's second hour",
        );
        check.equal(billedIn(data, licenses.addon, hour), expected(addon, 5, 5), "the add-on's second hour");
        checkBilling(check, data);
      },
    );

    await step('the add-on ends and AWS deprovisions it', async (check) => {
      const home = await buyer.get('/');
      await act(
        buyer,
        formWith(home, '/actions/marketplace-event', { licenseArn: licenses.addon, kind: 'agreement-ended' }),
        { endStatus: 'CANCELLED' },
      );
      await sandbox.advanceClock(10 * MINUTE_MS);
      await act(
        buyer,
        formWith(await buyer.get('/'), '/actions/marketplace-event', {
          licenseArn: licenses.addon,
          kind: 'license-deprovisioned',
        }),
      );
      const data = await state();
      check.equal(licenseRow(data, licenses.addon)?.status, 'ended', 'the add-on license has ended');
      check.equal(
        licenseRow(data, licenses.main)?.status,
        'active',
        'the first product license is still active',
      );
      check.equal(tenantOf(data)?.plan_id, mainPlan, "the tenant keeps the first product's plan");
      check(
        tenantOf(data)?.users.some((user) => user.email === registration.adminEmail) ?? false,
        'the admin is still a user of the tenant',
        tenantOf(data)?.users,
      );
      if (config.idoperation) {
        check.equal(
          data.idoperationUsers.find((user) => user.login_id === registration.adminEmail)?.is_disabled,
          0,
          'the iDoperation user stays enabled',
        );
      }
    });

    await step("the first product's metering carries on; the add-on's has stopped", async (check) => {
      const addonBilledBefore = billedOf(await state(), licenses.addon).length;
      hours.push(currentHour());
      await recordBoth(check, 15, 12, 9);
      await advance(60);
      const data = await state();
      const [, , hour = 0] = hours;
      check.equal(
        billedIn(data, licenses.main, hour),
        expected(main, 15, 12),
        "the first product's license was billed its hour",
      );
      check.equal(
        billedOf(data, licenses.addon).length,
        addonBilledBefore,
        'nothing more was billed to the ended add-on',
      );
      checkBilling(check, data);
      const failures = data.invocations.filter((invocation) => !invocation.ok);
      check(
        failures.every((invocation) => invocation.error?.errorType === EXPECTED_FAILURE),
        `no handler failed, apart from agreement events retried as ${EXPECTED_FAILURE}`,
        failures.map((invocation) => invocation.error),
      );
      check(data.deadLetters.length === 0, 'nothing was dead-lettered', data.deadLetters);
    });
  },
};
