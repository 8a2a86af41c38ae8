import { Construct } from 'constructs';
import type { DeploymentConfig } from '../../functions/shared/config.js';
import type { State } from './state.js';

export interface EventsProps {
  /** The validated deployment config. */
  readonly config: DeploymentConfig;
  /** Shared tables and the domain event bus. */
  readonly state: State;
}

/** Marketplace agreement/license events, legacy SNS notifications and SaaSus partner events. */
export class Events extends Construct {
  constructor(scope: Construct, id: string, props: EventsProps) {
    super(scope, id);
    void props;
  }
}
