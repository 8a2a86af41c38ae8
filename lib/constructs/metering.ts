import { Construct } from 'constructs';
import type { DeploymentConfig } from '../../functions/shared/config.js';
import type { State } from './state.js';

export interface MeteringProps {
  /** The validated deployment config. */
  readonly config: DeploymentConfig;
  /** Shared tables and the domain event bus. */
  readonly state: State;
}

/** The hourly SaaSus usage to BatchMeterUsage pipeline. */
export class Metering extends Construct {
  constructor(scope: Construct, id: string, props: MeteringProps) {
    super(scope, id);
    void props;
  }
}
