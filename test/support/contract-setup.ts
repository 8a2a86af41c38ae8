import { afterEach } from 'vitest';
import { assertSaasusContract } from './saasus-contract.js';

/** Fails a test whose SaaSus traffic broke the official OpenAPI contract (see `saasus-contract.ts`). */
afterEach(assertSaasusContract);
