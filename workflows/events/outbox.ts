import {
  ActivityFailure,
  condition,
  log,
  patched,
  proxyActivities,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { DeliveryAnswer, WebhookConfiguration } from '../../activities/events';
import { WebhookDelivery } from '../search-attributes';
import { countEvent } from './metrics';
import {
  merchantEventId,
  type DeliveryAttempt,
  type EventDelivery,
  type EventView,
  type MerchantEvent,
  type MerchantEventData,
  type MerchantEventType,
} from './messages';

/**
 * The outbox every owner (checkout, subscription) embeds: events are recorded in the owner's state
 * at the transition and delivered by the owner itself, one loop per endpoint. Why in the owner and
 * not in a workflow of their own: the event and its id are then part of the same history as the
 * transition (no hand-off that could be lost or duplicated under another id), each endpoint gets an
 * object's events strictly in order (the loop sends the oldest undelivered one first, so a failing
 * endpoint delays only itself), and a delivery costs one activity, not a signal and an activity.
 */

/** patched() id: histories recorded before merchant events existed emit none on replay. */
export const MERCHANT_EVENTS = 'merchant-events';
/**
 * patched() id: runs recorded before it left deliveries carried over by continue-as-new (an attempt
 * waiting for its retry) until the run's first new event, which for a subscription is weeks later.
 */
export const OUTBOX_RESUMES = 'outbox-resumes-pending';
/** Events sent in one activity, in order, stopping at the first failure (fewer actions). */
const BATCH = 10;
/** Delivered events kept in the state for the events list; older ones are dropped (bounded history). */
const KEPT_DELIVERED = 100;

export interface StoredEvent {
  event: MerchantEvent;
  deliveries: EventDelivery[];
}

/** The durable part, carried over by continueAsNew inside the owner's state. */
export interface OutboxState {
  /** Transitions recorded so far: the next event is number `count + 1`. */
  count: number;
  events: StoredEvent[];
  /** The WebhookDelivery search attribute last upserted. */
  published?: string;
  /**
   * The configuration last learned, carried over so that a run need not ask again (an activity a
   * run, billed); each delivery's answer says when it changed. Absent or empty: ask.
   */
  configuration?: WebhookConfiguration;
}

export const emptyOutbox = (): OutboxState => ({ count: 0, events: [] });

const deliveries = proxyActivities<Activities>({
  // The activity sends up to BATCH events, each with its own 15 s timeout, and heartbeats between
  // them: a worker killed mid-delivery is noticed after the heartbeat timeout, not after minutes.
  startToCloseTimeout: `${BATCH * 15 + 15}s`,
  heartbeatTimeout: '20s',
  // The retry schedule is the workflow's (Standard Webhooks' 5 s ... 24 h), so each attempt is
  // recorded with its answer and the next one is a durable timer.
  retry: { maximumAttempts: 1 },
});
const config = proxyActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

export class EventOutbox {
  /** From the carried configuration, else learned from the worker's (endpoints can change between runs). */
  private endpoints: string[] | undefined;
  private scheduleMs: number[] = [];
  private learning = false;
  /** A delivery loop runs for each of `endpoints`. */
  private looping = false;
  /** Endpoints with a delivery loop (a loop never ends: an endpoint removed and added back keeps its one loop). */
  private readonly loops = new Set<string>();
  /** Events recorded by this run: an endpoint added to the configuration meanwhile gets these. */
  private readonly recordedNow = new Set<string>();
  /** Delivery activities running now (continue-as-new waits for them: see idle()). */
  private inFlight = 0;

  constructor(
    readonly ownerWorkflowId: string,
    readonly s: OutboxState,
  ) {
    if (s.configuration?.endpointIds.length) {
      this.endpoints = [...s.configuration.endpointIds];
      this.scheduleMs = s.configuration.retryScheduleMs;
    }
    // Deliveries carried over by continue-as-new go on at their own time, not at the next event.
    if (s.events.some((e) => !delivered(e)) && patched(OUTBOX_RESUMES)) this.start();
  }

  /** Records an event at its transition; its id is fixed by the owner's history. */
  emit(type: MerchantEventType, data: MerchantEventData): void {
    // Before this patch, transitions emitted nothing: replaying such a history must not schedule.
    if (!patched(MERCHANT_EVENTS)) return;
    this.s.count++;
    const event: MerchantEvent = {
      id: merchantEventId(this.ownerWorkflowId, this.s.count),
      type,
      timestamp: new Date().toISOString(),
      data,
    };
    // Before it is stored: the counters compare it with the events recorded before it.
    countEvent(event, this.s.events);
    this.s.events.push({ event, deliveries: (this.endpoints ?? []).map(pending) });
    this.recordedNow.add(event.id);
    log.info('merchant event', { eventId: event.id, type });
    this.prune();
    this.start();
  }

  /** Records an event already emitted elsewhere, under its own id (redelivery). */
  resend(event: MerchantEvent): void {
    this.s.events.push({ event, deliveries: (this.endpoints ?? []).map(pending) });
    this.start();
  }

  list(): EventView[] {
    return this.s.events.map(({ event, deliveries }) => ({ ...event, deliveries }));
  }

  /**
   * No delivery on the wire. An owner continues as new only then (bounded): an attempt cut off by
   * continue-as-new is sent again by the next run, a duplicate the receiver need not see.
   */
  idle(): boolean {
    if (this.inFlight > 0 || this.learning) return false;
    // An attempt about to start counts as on the wire: its loop may not have run yet this activation.
    const now = Date.now();
    return (this.endpoints ?? []).every((id) => {
      const head = this.queue(id)[0];
      return (
        !head || (deliveryOf(head, id).nextAttemptAt !== null && Date.parse(deliveryOf(head, id).nextAttemptAt!) > now)
      );
    });
  }

  /** Every recorded event delivered, failed for good or skipped (a disabled endpoint). */
  settled(): boolean {
    return (
      this.endpoints !== undefined && this.s.events.every((e) => e.deliveries.every((d) => d.status !== 'Pending'))
    );
  }

  /** Waits until settled; the owner ends only then, so no recorded event is left undelivered. */
  async drain(): Promise<void> {
    if (this.s.events.some((e) => e.deliveries.length === 0 || e.deliveries.some((d) => d.status === 'Pending')))
      this.start();
    await condition(() => this.settled() || this.s.events.length === 0);
  }

  private start(): void {
    if (this.looping || this.learning) return;
    if (this.endpoints) {
      this.looping = true;
      for (const id of this.endpoints) this.loop(id);
      return;
    }
    this.learning = true;
    void this.learnEndpoints();
  }

  private async learnEndpoints(): Promise<void> {
    const configuration = await config.webhookEndpoints();
    this.endpoints = [];
    this.learning = false;
    this.looping = true;
    this.adopt(configuration, (e) => !delivered(e));
  }

  /**
   * Takes the worker's configuration: new endpoints get a loop and the events `gets` picks (those
   * still undelivered when first learned; this run's when a delivery revealed an added endpoint).
   * A removed endpoint's loop ends its queue: the activity answers it as disabled.
   */
  private adopt(configuration: WebhookConfiguration, gets: (e: StoredEvent) => boolean): void {
    const { endpointIds, retryScheduleMs } = configuration;
    this.scheduleMs = retryScheduleMs;
    this.s.configuration = { endpointIds: [...endpointIds], retryScheduleMs: [...retryScheduleMs] };
    const added = endpointIds.filter((id) => !this.endpoints!.includes(id));
    this.endpoints = [...endpointIds];
    for (const e of this.s.events) {
      for (const id of added)
        if (!e.deliveries.some((d) => d.endpointId === id) && gets(e)) e.deliveries.push(pending(id));
    }
    for (const id of added) this.loop(id);
  }

  private loop(endpointId: string): void {
    if (this.loops.has(endpointId)) return;
    this.loops.add(endpointId);
    void this.deliverLoop(endpointId);
  }

  private queue(endpointId: string): StoredEvent[] {
    return this.s.events.filter((e) => e.deliveries.some((d) => d.endpointId === endpointId && d.status === 'Pending'));
  }

  private async deliverLoop(endpointId: string): Promise<void> {
    for (;;) {
      await condition(() => this.queue(endpointId).length > 0);
      const batch = this.queue(endpointId).slice(0, BATCH);
      const head = deliveryOf(batch[0]!, endpointId);
      if (head.nextAttemptAt) {
        const wait = Date.parse(head.nextAttemptAt) - Date.now();
        if (wait > 0) await sleep(wait);
      }
      let answer: DeliveryAnswer;
      this.inFlight++;
      try {
        answer = await deliveries.deliverMerchantEvents({ endpointId, events: batch.map((e) => e.event) });
      } catch (err) {
        // Timeout, worker crash, anything: an attempt that got no answer, retried on schedule.
        const error = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
        answer = { results: [{ statusCode: null, error: error.slice(0, 200) }], disabled: false };
      } finally {
        this.inFlight--;
      }
      const at = new Date().toISOString();
      answer.results.forEach((r, i) => {
        const d = deliveryOf(batch[i]!, endpointId);
        const attempt: DeliveryAttempt = { at, statusCode: r.statusCode, error: r.error };
        d.attempts.push(attempt);
        if (r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300) {
          d.status = 'Delivered';
          d.nextAttemptAt = null;
        } else if (!answer.disabled) {
          const retryIn = this.scheduleMs[d.attempts.length - 1];
          if (retryIn === undefined) {
            d.status = 'Failed';
            d.nextAttemptAt = null;
            log.warn('merchant event failed for good', { eventId: batch[i]!.event.id, endpointId });
          } else {
            d.nextAttemptAt = new Date(Date.now() + retryIn).toISOString();
          }
        }
      });
      if (answer.disabled) {
        // 410 (or an endpoint already disabled): nothing more goes there from this owner.
        for (const e of this.queue(endpointId)) deliveryOf(e, endpointId).status = 'EndpointDisabled';
      }
      const now = answer.configuration;
      if (now && !sameConfiguration(now, this.s.configuration))
        this.adopt(now, (e) => this.recordedNow.has(e.event.id));
      this.prune();
      this.publish();
    }
  }

  /** WebhookDelivery: Failing while an attempt waits for its retry, Failed/EndpointDisabled after. */
  private publish(): void {
    const all = this.s.events.flatMap((e) => e.deliveries);
    const value = all.some((d) => d.status === 'Pending' && d.attempts.length > 0)
      ? 'Failing'
      : all.some((d) => d.status === 'Failed')
        ? 'Failed'
        : all.some((d) => d.status === 'EndpointDisabled')
          ? 'EndpointDisabled'
          : 'Delivered';
    // Each upsert is a history event: a healthy owner that never failed upserts nothing.
    if (value === (this.s.published ?? 'Delivered')) return;
    this.s.published = value;
    upsertSearchAttributes([{ key: WebhookDelivery, value }]);
  }

  private prune(): void {
    const done = this.s.events.filter((e) => e.deliveries.every((d) => d.status !== 'Pending'));
    const drop = done.length - KEPT_DELIVERED;
    if (drop > 0) {
      const gone = new Set(done.slice(0, drop));
      this.s.events = this.s.events.filter((e) => !gone.has(e));
    }
  }
}

const sameConfiguration = (a: WebhookConfiguration, b: WebhookConfiguration | undefined) =>
  !!b &&
  a.endpointIds.join('\n') === b.endpointIds.join('\n') &&
  a.retryScheduleMs.join(',') === b.retryScheduleMs.join(',');
const pending = (endpointId: string): EventDelivery => ({
  endpointId,
  status: 'Pending',
  attempts: [],
  nextAttemptAt: null,
});
const delivered = (e: StoredEvent) => e.deliveries.length > 0 && e.deliveries.every((d) => d.status !== 'Pending');
const deliveryOf = (e: StoredEvent, endpointId: string) => e.deliveries.find((d) => d.endpointId === endpointId)!;
