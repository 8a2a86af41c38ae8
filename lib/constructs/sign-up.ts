import { Construct } from 'constructs';
import type { DeploymentConfig } from '../../functions/shared/config.js';
import type { State } from './state.js';

export interface SignUpProps {
  /** The validated deployment config. */
  readonly config: DeploymentConfig;
  /** Shared tables and the domain event bus. */
  readonly state: State;
}

/** The Marketplace fulfillment URL, the registration page and SaaSus provisioning. */
export class SignUp extends Construct {
  constructor(scope: Construct, id: string, props: SignUpProps) {
    super(scope, id);
    void props;
  }
}
