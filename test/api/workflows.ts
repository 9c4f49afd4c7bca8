import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CreateCheckoutSessionWorkflowInput, CreatedCheckoutSession } from '../../api/checkout/session-routes';
import type { createSessionActivities } from './session-activities';

const { createCheckoutSession } = proxyActivities<ReturnType<typeof createSessionActivities>>({
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 5 },
});

/**
 * Reference implementation of the server-side creation contract: one workflow per Idempotency-Key,
 * the Amazon idempotency key derived from the workflow id, so retries never create two sessions.
 */
export async function createCheckoutSessionWorkflow(input: CreateCheckoutSessionWorkflowInput): Promise<CreatedCheckoutSession> {
  return createCheckoutSession(input.payload, workflowInfo().workflowId);
}
