import { Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from '#shared/config';
import { Alarms } from './constructs/alarms.js';
import { Events } from './constructs/events.js';
import { Metering } from './constructs/metering.js';
import { Operations } from './constructs/operations.js';
import { SignUp } from './constructs/sign-up.js';
import { State } from './constructs/state.js';

export interface MarketplaceBridgeStackProps extends StackProps {
  /** The validated deployment config (see `parseDeploymentConfig`). */
  readonly config: DeploymentConfig;
}

/** The whole app: shared state plus one construct per capability. */
export class MarketplaceBridgeStack extends Stack {
  readonly state: State;

  constructor(scope: Construct, id: string, props: MarketplaceBridgeStackProps) {
    super(scope, id, props);
    const { config } = props;
    Tags.of(this).add('marketplace-bridge:stage', config.stage);

    this.state = new State(this, 'State', { stage: config.stage });
    const alarms = new Alarms(this, 'Alarms', config.alarmEmail ? { email: config.alarmEmail } : {});
    const signUp = new SignUp(this, 'SignUp', { config, state: this.state, alarms });
    const metering = new Metering(this, 'Metering', { config, state: this.state, alarms });
    const events = new Events(this, 'Events', {
      config,
      state: this.state,
      alarms,
      flushQueue: metering.flushQueue,
    });
    new Operations(this, 'Operations', {
      state: this.state,
      signUp,
      metering,
      events,
      batchMeterUsageQuotaPerSecond: config.metering.batchMeterUsageQuotaPerSecond,
    });
  }
}
