import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Webhook } from 'standardwebhooks';
import type { WebhookEndpointConfig } from '../config';
import { countWebhookDeliveries, type WebhookDeliveryOutcome } from '../observability/metrics';
import { webhookEndpointWorkflow } from '../workflows/events/endpoint';
import {
  disableEndpointSignal,
  endpointStatusQuery,
  webhookEndpointWorkflowId,
  type MerchantEvent,
} from '../workflows/events/messages';

export interface EventActivityDeps {
  temporal: Client;
  webhooks?: {
    endpoints: WebhookEndpointConfig[];
    /** Before each retry, in ms (Standard Webhooks: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h). */
    retryScheduleMs: number[];
    timeoutMs: number;
  };
}

export const DEFAULT_RETRY_SCHEDULE_MS = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400].map((s) => s * 1000);

export interface DeliveryResult {
  statusCode: number | null;
  error: string | null;
}

/** The worker's webhook configuration as an owner sees it: endpoint ids and the retry schedule. */
export interface WebhookConfiguration {
  endpointIds: string[];
  retryScheduleMs: number[];
}

export interface DeliveryAnswer {
  /** One per event tried, in order. */
  results: DeliveryResult[];
  disabled: boolean;
  /** The configuration now, so that an owner carrying an older one learns of a change (absent in older histories). */
  configuration?: WebhookConfiguration;
}

/** How long a worker trusts what it last read of an endpoint's status (a 410 elsewhere shows up after this). */
const STATUS_TTL_MS = 5_000;

export function createEventActivities(deps: EventActivityDeps) {
  const endpoints = deps.webhooks?.endpoints ?? [];
  const configuration = (): WebhookConfiguration => ({
    endpointIds: endpoints.map((e) => e.id),
    retryScheduleMs: deps.webhooks?.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
  });
  const timeoutMs = deps.webhooks?.timeoutMs ?? 15_000;
  // One signer per secret: the package does the Standard Webhooks HMAC; we only join signatures.
  const signers = new Map(endpoints.map((e) => [e.id, e.secrets.map((s) => new Webhook(s))]));
  const statusCache = new Map<string, { disabled: boolean; until: number }>();

  async function disabled(endpointId: string): Promise<boolean> {
    const cached = statusCache.get(endpointId);
    if (cached && cached.until > Date.now()) return cached.disabled;
    let isDisabled = false;
    try {
      const status = await deps.temporal.workflow
        .getHandle(webhookEndpointWorkflowId(endpointId))
        .query(endpointStatusQuery);
      isDisabled = status.status === 'Disabled';
    } catch (err) {
      // Never disabled: its workflow starts with the first 410.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    statusCache.set(endpointId, { disabled: isDisabled, until: Date.now() + STATUS_TTL_MS });
    return isDisabled;
  }

  async function disable(endpointId: string, reason: string): Promise<void> {
    await deps.temporal.workflow.signalWithStart(webhookEndpointWorkflow, {
      workflowId: webhookEndpointWorkflowId(endpointId),
      taskQueue: Context.current().info.taskQueue,
      args: [{ endpointId }],
      signal: disableEndpointSignal,
      signalArgs: [{ reason }],
    });
    statusCache.set(endpointId, { disabled: true, until: Date.now() + STATUS_TTL_MS });
  }

  /** Every attempt, by outcome, on the worker's metric meter (Runtime.metricMeter with the activity's tags). */
  function counted(endpointId: string, result: DeliveryResult, outcome: WebhookDeliveryOutcome): DeliveryResult {
    countWebhookDeliveries(Context.current().metricMeter, { endpointId, outcome, status: result.statusCode ?? 0 });
    return result;
  }

  async function post(endpoint: WebhookEndpointConfig, event: MerchantEvent): Promise<DeliveryResult> {
    const body = JSON.stringify(event);
    const now = new Date();
    const signature = signers
      .get(endpoint.id)!
      .map((w) => w.sign(event.id, now, body))
      .join(' ');
    try {
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'amazon-pay-temporal-webhooks/1',
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      // The receiver's body is not ours to keep (it could echo anything); drain it and move on.
      await res.body?.cancel().catch(() => undefined);
      const result = { statusCode: res.status, error: res.ok ? null : `HTTP ${res.status}` };
      return counted(endpoint.id, result, res.ok ? 'delivered' : res.status === 410 ? 'gone' : 'rejected');
    } catch (err) {
      const e = err as Error;
      if (e.name === 'TimeoutError')
        return counted(endpoint.id, { statusCode: null, error: `no answer within ${timeoutMs} ms` }, 'timeout');
      const error = `connection failed: ${(e.cause as Error | undefined)?.message ?? e.message}`.slice(0, 200);
      return counted(endpoint.id, { statusCode: null, error }, 'unreachable');
    }
  }

  return {
    /** The endpoints every new event goes to, and the retry schedule; read when an owner knows none. */
    async webhookEndpoints(): Promise<WebhookConfiguration> {
      return configuration();
    },

    /**
     * Sends one owner's events to one endpoint, oldest first, stopping at the first that is not
     * answered 2xx (so none overtakes it). One result per event tried. 410 disables the endpoint
     * for every owner; an endpoint already disabled, or removed from the configuration, is not called.
     */
    async deliverMerchantEvents({
      endpointId,
      events,
    }: {
      endpointId: string;
      events: MerchantEvent[];
    }): Promise<DeliveryAnswer> {
      const answer = (results: DeliveryResult[], isDisabled: boolean): DeliveryAnswer => ({
        results,
        disabled: isDisabled,
        configuration: configuration(),
      });
      const endpoint = endpoints.find((e) => e.id === endpointId);
      if (!endpoint)
        return answer(
          events.map(() =>
            counted(endpointId, { statusCode: null, error: 'endpoint no longer configured' }, 'skipped'),
          ),
          true,
        );
      if (await disabled(endpointId)) {
        const meter = Context.current().metricMeter;
        countWebhookDeliveries(meter, { endpointId, outcome: 'skipped', status: 0 }, events.length);
        return answer([], true);
      }
      const results: DeliveryResult[] = [];
      for (const event of events) {
        const result = await post(endpoint, event);
        results.push(result);
        Context.current().heartbeat(results.length);
        if (result.statusCode === 410) {
          await disable(endpointId, `answered 410 Gone to ${event.id}`);
          return answer(results, true);
        }
        if (result.error) break;
      }
      return answer(results, false);
    },
  };
}
