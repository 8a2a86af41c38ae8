import type { Scenario } from '../scenario.js';
import { fullLifecycle } from './full-lifecycle.js';
import { multiProduct } from './multi-product.js';
import { smoke } from './smoke.js';

/** Scenarios `npm start -- --scenario NAME` can run. */
export const scenarios: Readonly<Record<string, Scenario>> = {
  [smoke.name]: smoke,
  [fullLifecycle.name]: fullLifecycle,
  [multiProduct.name]: multiProduct,
};
