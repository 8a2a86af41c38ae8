import { badRequest, notFound } from './errors.js';
import type { Route } from './route.js';

/** The Integration API's EventBridge operations, over the state's `EventBridgeIntegration`. */
export const integrationRoutes: readonly Route[] = [
  {
    method: 'GET',
    pattern: '/v1/integration/eventbridge/info',
    operation: 'GetEventBridgeSettings',
    handle: ({ state }) => {
      const settings = state.integration.settings;
      // Before any save there is nothing the 200 schema allows (its region is an enum), so the
      // answer is the only error the spec declares: the emulator's mapping turns this into a 500.
      if (!settings) throw notFound('no EventBridge settings saved');
      return { status: 200, body: settings };
    },
  },
  {
    method: 'PUT',
    pattern: '/v1/integration/eventbridge/info',
    operation: 'SaveEventBridgeSettings',
    eventType: 'update_eventbridge_settings',
    handle: ({ state, body }) => {
      state.integration.save(body);
      return { status: 200 };
    },
  },
  {
    method: 'DELETE',
    pattern: '/v1/integration/eventbridge/info',
    operation: 'DeleteEventBridgeSettings',
    handle: ({ state }) => {
      state.integration.remove();
      return { status: 200 };
    },
  },
  {
    method: 'POST',
    pattern: '/v1/integration/eventbridge/test-event',
    operation: 'CreateEventBridgeTestEvent',
    // The one test event type SaaSus has been seen to send.
    eventType: 'create_eventbridge_test_event',
    handle: ({ state }) => {
      if (!state.integration.settings) throw badRequest('EventBridge integration is not configured');
      return { status: 201 };
    },
  },
];
