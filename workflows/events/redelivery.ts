import { setHandler } from '@temporalio/workflow';
import { eventsQuery, type EventView, type MerchantEvent } from './messages';
import { emptyOutbox, EventOutbox } from './outbox';

/**
 * `POST /v1/events/{eventId}/redeliver`: sends one recorded event again, under the same id, to
 * every configured endpoint, with the usual retry schedule. A workflow of its own (id
 * `redeliver-<eventId>-<key>`), so it works whether the owner still runs or has long ended, and a
 * retried request with the same Idempotency-Key is the same redelivery.
 */
export async function redeliverEventWorkflow(input: { event: MerchantEvent }): Promise<EventView> {
  const outbox = new EventOutbox('', emptyOutbox());
  setHandler(eventsQuery, () => outbox.list());
  outbox.resend(input.event);
  await outbox.drain();
  return outbox.list()[0]!;
}

export const redeliveryWorkflowId = (eventId: string, key: string): string => `redeliver-${eventId}-${key}`;
