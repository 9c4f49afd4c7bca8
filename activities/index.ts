// Composition root of every activity the worker registers. Each module owns one concern and gets
// only the dependencies it needs.
import type { Client } from '@temporalio/client';
import type { AmazonPayClient } from '../amazon-pay';
import { createAmazonPayActivities } from './amazon-pay';
import { createCheckoutSessionActivities } from './checkout-session';
import { createEventActivities, type EventActivityDeps } from './events';
import { createSubscriptionActivities } from './subscriptions';
import { createNotificationActivities, type NotificationActivityDeps } from './notifications';

export interface ActivityDeps {
  amazonPay: AmazonPayClient;
  temporal: Client;
  /** Merchant webhook endpoints; none: events are recorded but sent nowhere. */
  webhooks?: EventActivityDeps['webhooks'];
  /** The inbox's waits when the owner's registration starts it (the IPN route passes the same). */
  inboxOptions?: NotificationActivityDeps['inboxOptions'];
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createAmazonPayActivities(deps),
    ...createCheckoutSessionActivities(deps),
    ...createNotificationActivities(deps),
    ...createEventActivities(deps),
    ...createSubscriptionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
