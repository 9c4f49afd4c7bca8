import type { AmazonPayClient } from '../amazon-pay';
import { idempotencyKeyFor } from '../amazon-pay';
import type {
  CreateCheckoutSessionWorkflowInput,
  CreatedCheckoutSession,
} from '../workflows/checkout-session-creation';
import { toApplicationFailure } from './amazon-pay';

export function createCheckoutSessionActivities({
  amazonPay,
}: {
  amazonPay: Pick<AmazonPayClient, 'createCheckoutSession'>;
}) {
  return {
    /** Create Checkout Session; `operationId` comes from the workflow, so every retry reuses the key. */
    async createCheckoutSession(
      payload: CreateCheckoutSessionWorkflowInput['payload'],
      operationId: string,
    ): Promise<CreatedCheckoutSession> {
      try {
        const session = await amazonPay.createCheckoutSession(payload, {
          idempotencyKey: idempotencyKeyFor(operationId),
        });
        return {
          checkoutSessionId: session.checkoutSessionId,
          amazonPayRedirectUrl: session.webCheckoutDetails?.amazonPayRedirectUrl ?? null,
        };
      } catch (err) {
        throw toApplicationFailure(err);
      }
    },
  };
}
