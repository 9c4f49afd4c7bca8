import type { AmazonPayClient } from '../../amazon-pay';
import { idempotencyKeyFor } from '../../amazon-pay';
import type { CreateCheckoutSessionPayload, CreatedCheckoutSession } from '../../api/checkout/session-routes';

/** Reference activity for the server-side creation contract (api/checkout/session-routes.ts). */
export const createSessionActivities = (amazonPay: AmazonPayClient) => ({
  async createCheckoutSession(payload: CreateCheckoutSessionPayload, operationId: string): Promise<CreatedCheckoutSession> {
    const session = await amazonPay.createCheckoutSession(payload, { idempotencyKey: idempotencyKeyFor(operationId) });
    return { checkoutSessionId: session.checkoutSessionId, amazonPayRedirectUrl: session.webCheckoutDetails?.amazonPayRedirectUrl ?? null };
  },
});
