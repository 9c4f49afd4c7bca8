import { condition, continueAsNew, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { WebhookEndpointStatus as StatusKey } from '../search-attributes';
import {
  disableEndpointSignal,
  enableEndpointUpdate,
  endpointStatusQuery,
  type WebhookEndpointStatus,
} from './messages';

/**
 * One per webhook endpoint (`webhook-endpoint-<id>`), started by the first 410 it answers: the
 * endpoint's delivery status, shared by every owner's outbox. Its URL and secrets stay in the
 * worker's configuration (never in Temporal). Operators find disabled endpoints with
 * `temporal workflow list --query "WebhookEndpointStatus='Disabled'"` and enable one again through
 * the API (`POST /v1/webhook-endpoints/{id}/enable`).
 */
export async function webhookEndpointWorkflow(input: {
  endpointId: string;
  resume?: WebhookEndpointStatus;
}): Promise<void> {
  const state: WebhookEndpointStatus = input.resume ?? {
    endpointId: input.endpointId,
    status: 'Enabled',
    disabledAt: null,
    reason: null,
  };
  let changes = 0;
  const publish = () => {
    changes++;
    upsertSearchAttributes([{ key: StatusKey, value: state.status }]);
  };
  setHandler(endpointStatusQuery, () => state);
  setHandler(disableEndpointSignal, ({ reason }) => {
    if (state.status === 'Disabled') return;
    Object.assign(state, { status: 'Disabled', disabledAt: new Date().toISOString(), reason: reason.slice(0, 200) });
    publish();
  });
  setHandler(enableEndpointUpdate, () => {
    if (state.status === 'Disabled') {
      Object.assign(state, { status: 'Enabled', disabledAt: null, reason: null });
      publish();
    }
    return state;
  });
  if (!input.resume) publish();
  // Lives as long as the endpoint is configured; bounded history: a fresh run every 500 changes.
  await condition(() => changes >= 500 || workflowInfo().continueAsNewSuggested);
  await continueAsNew<typeof webhookEndpointWorkflow>({ endpointId: input.endpointId, resume: state });
}
