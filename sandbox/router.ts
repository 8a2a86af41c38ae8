import type { Delivery, DeliverySource } from './delivery.js';
import { compileEventPattern, type EventPatternMatcher } from './event-pattern.js';
import type { RuleModel, SandboxModel } from './template.js';

/**
 * The sandbox's event buses: every event put on a bus (our domain events via the EventBridge
 * emulator, Marketplace events injected on the default bus, SaaSus partner events on the partner
 * bus) is matched against the template's rules for that bus with the EventBridge pattern matcher
 * and delivered to each matching rule's targets.
 */

export interface RoutedEvent {
  readonly busName: string;
  readonly event: Readonly<Record<string, unknown>>;
  /** Simulated time the bus received it. */
  readonly receivedAt: string;
  /** The rules that matched, by name. */
  readonly matchedRules: readonly string[];
}

interface CompiledRule {
  readonly model: RuleModel;
  readonly name: string;
  readonly arn: string;
  readonly matches: EventPatternMatcher | undefined;
  readonly problem: string | undefined;
}

export interface RouterOptions {
  readonly delivery: Delivery;
  readonly account: string;
  readonly region: string;
  readonly now: () => Date;
  /** How many routed events to remember for the dashboard. */
  readonly historyLimit?: number;
}

export const ruleName = (rule: RuleModel): string => rule.name ?? rule.logicalId;

export class EventRouter {
  readonly #rules: CompiledRule[];
  readonly #history: RoutedEvent[] = [];

  constructor(
    model: SandboxModel,
    private readonly options: RouterOptions,
  ) {
    this.#rules = model.rules
      .filter((rule) => rule.eventPattern !== undefined)
      .map((rule) => {
        const name = ruleName(rule);
        const busPart = rule.eventBusName === 'default' ? '' : `${rule.eventBusName}/`;
        const arn = `arn:aws:events:${options.region}:${options.account}:rule/${busPart}${name}`;
        try {
          return {
            model: rule,
            name,
            arn,
            matches: compileEventPattern(rule.eventPattern),
            problem: undefined,
          };
        } catch (error) {
          return {
            model: rule,
            name,
            arn,
            matches: undefined,
            problem: error instanceof Error ? error.message : String(error),
          };
        }
      });
  }

  /** Rules whose pattern the matcher rejects (they never match; shown on the dashboard). */
  problems(): { rule: string; problem: string }[] {
    return this.#rules.flatMap((rule) => (rule.problem ? [{ rule: rule.name, problem: rule.problem }] : []));
  }

  rules(): { name: string; busName: string; enabled: boolean; pattern: unknown; targets: number }[] {
    return this.#rules.map((rule) => ({
      name: rule.name,
      busName: rule.model.eventBusName,
      enabled: rule.model.enabled,
      pattern: rule.model.eventPattern,
      targets: rule.model.targets.length,
    }));
  }

  /** Puts an event on a bus: matching rules deliver it to their targets (asynchronously). */
  publish(event: Record<string, unknown>, busName: string): RoutedEvent {
    const matched = this.#rules.filter(
      (rule) => rule.model.enabled && rule.model.eventBusName === busName && rule.matches?.(event),
    );
    for (const rule of matched) {
      const source: DeliverySource = { origin: 'rule', name: rule.name };
      for (const target of rule.model.targets) {
        void this.options.delivery.deliver(target, event, source, { ruleName: rule.name, ruleArn: rule.arn });
      }
    }
    const routed: RoutedEvent = {
      busName,
      event,
      receivedAt: this.options.now().toISOString(),
      matchedRules: matched.map((rule) => rule.name),
    };
    this.#history.push(routed);
    const limit = this.options.historyLimit ?? 500;
    if (this.#history.length > limit) this.#history.splice(0, this.#history.length - limit);
    return routed;
  }

  /** Routed events, newest last. */
  history(): RoutedEvent[] {
    return [...this.#history];
  }
}
