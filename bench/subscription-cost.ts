// P4 per billing cycle: what one cycle of a monthly subscription costs, counted from the real
// histories on the time-skipping server (bench/time-skipping.ts) by the same action rules as the
// checkout's (bench/actions.ts). The subscription continues as new after each billed cycle, so one
// run is one cycle: its history from its start (the continue-as-new action) to its own
// continue-as-new, plus what the cycle added to the charge permission's notification inbox (the
// charge's IPNs, forwarded to the subscription). Amazon API calls are the simulator's counts over
// the cycle. The first run also holds the sign-up (registration, the created event) and is shown
// apart from the steady cycles.
import proto from '@temporalio/proto';
import { notificationInboxWorkflowId } from '../workflows/notifications';
import { subscriptionStatusQuery } from '../workflows/subscription-messages';
import { countBillableActions, type ActionCount } from './actions';
import { until } from './support';
import type { SubscriptionStack } from './time-skipping';

type History = proto.temporal.api.history.v1.IHistory;

export interface SubscriptionCostOptions {
  /** Cycles billed (the first is the sign-up run; the rest are steady cycles). */
  cycles: number;
}

export interface CycleCost {
  cycle: number;
  /** The run that billed this cycle, ending in its continue-as-new. */
  run: { events: number; actions: ActionCount; eventTypes: Record<string, number> };
  /** What this cycle added to the notification inbox (its IPNs). */
  inbox: { events: number; actions: number; items: ActionCount['items'] };
  /** run + inbox */
  actions: number;
  amazonCalls: number;
  amazonByOperation: Record<string, number>;
  merchantEvents: Record<string, number>;
  /** Wall-clock seconds from moving the clocks to the cycle settled (time-skipping server). */
  seconds: number;
}

export interface SubscriptionCostResult {
  options: SubscriptionCostOptions;
  cycles: CycleCost[];
  /** Means over the steady cycles (2..n): the runs after the sign-up run. */
  steady: {
    cycles: number;
    actions: number;
    runEvents: number;
    events: number;
    amazonCalls: number;
    historyAtContinueAsNew: number;
  };
}

const { EventType } = proto.temporal.api.enums.v1;
const typeName = (e: proto.temporal.api.history.v1.IHistoryEvent): string => {
  const t = e.eventType;
  return (typeof t === 'number' ? EventType[t] : String(t ?? '')) ?? '';
};

/** No workflow task outstanding and every scheduled activity closed: nothing more happens until a timer or a message. */
export function quietHistory(history: History): boolean {
  const events = history.events ?? [];
  const open = new Set<string>();
  let taskOpen = false;
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes) open.add(String(e.eventId));
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closed) open.delete(String(closed.scheduledEventId));
    if (e.workflowTaskScheduledEventAttributes) taskOpen = true;
    if (
      e.workflowTaskCompletedEventAttributes ||
      e.workflowTaskFailedEventAttributes ||
      e.workflowTaskTimedOutEventAttributes
    )
      taskOpen = false;
  }
  const last = events.at(-1);
  const done = !!(
    last?.workflowExecutionContinuedAsNewEventAttributes ?? last?.workflowExecutionCompletedEventAttributes
  );
  return done || (!taskOpen && open.size === 0);
}

function eventTypes(history: History): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of history.events ?? []) {
    const n = typeName(e).replace(/^EVENT_TYPE_/, '');
    out[n] = (out[n] ?? 0) + 1;
  }
  return out;
}

export const diff = (after: Record<string, number>, before: Record<string, number>): Record<string, number> =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]): [string, number] => [k, v - (before[k] ?? 0)])
      .filter(([, v]) => v > 0),
  );
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const HOUR = 3_600_000;

export async function runSubscriptionCost(
  stack: SubscriptionStack,
  options: SubscriptionCostOptions,
): Promise<SubscriptionCostResult> {
  const { temporal, admin, simulator, receiver } = stack;
  const { chargePermissionId, subscriptionId } = await stack.subscribe(0, { amount: '9.99' });
  const subscription = temporal.workflow.getHandle(subscriptionId);
  const inbox = temporal.workflow.getHandle(notificationInboxWorkflowId(chargePermissionId));
  const charged = () => receiver.bySubscription.get(subscriptionId)?.get('subscription.charged') ?? 0;
  const eventsOf = () => Object.fromEntries(receiver.bySubscription.get(subscriptionId) ?? new Map<string, number>());

  /** The subscription (current run) and its inbox are quiet, every IPN sent was delivered, `charged` events reached the receiver. */
  const settle = async (what: string, chargedEvents: number, runIdOtherThan?: string) => {
    await until(
      async () => {
        await simulator.ipn.idle(30_000);
        const d = await subscription.describe();
        if (runIdOtherThan && d.runId === runIdOtherThan) return false;
        if (charged() < chargedEvents || !receiver.bySubscription.get(subscriptionId)?.get('subscription.created'))
          return false;
        const [h, i] = await Promise.all([
          temporal.workflow.getHandle(subscriptionId, d.runId).fetchHistory(),
          inbox.fetchHistory(),
        ]);
        return quietHistory(h) && quietHistory(i) ? d.runId : false;
      },
      (v) => v !== false,
      120_000,
      `subscription ${subscriptionId} to settle (${what})`,
    );
    return (await subscription.describe()).runId;
  };

  let runId = await settle('signed up', 0);
  const cycles: CycleCost[] = [];
  for (let cycle = 1; cycle <= options.cycles; cycle++) {
    const amazonBefore = (await admin.requestCounts()).byOperation;
    const inboxBefore = await inbox.fetchHistory();
    const eventsBefore = eventsOf();
    const { nextBillingAt } = await subscription.query(subscriptionStatusQuery);
    const started = performance.now();
    await stack.elapse(Date.parse(nextBillingAt!) + HOUR - (await stack.now()));
    const next = await settle(`cycle ${cycle}`, cycle, runId);
    const seconds = (performance.now() - started) / 1000;
    const run = await temporal.workflow.getHandle(subscriptionId, runId).fetchHistory();
    const inboxAfter = await inbox.fetchHistory();
    const inboxActions = countBillableActions(inboxAfter).total - countBillableActions(inboxBefore).total;
    const inboxNew: History = { events: (inboxAfter.events ?? []).slice((inboxBefore.events ?? []).length) };
    const amazonByOperation = diff((await admin.requestCounts()).byOperation, amazonBefore);
    const actions = countBillableActions(run);
    cycles.push({
      cycle,
      run: { events: run.events?.length ?? 0, actions, eventTypes: eventTypes(run) },
      inbox: { events: inboxNew.events!.length, actions: inboxActions, items: countBillableActions(inboxNew).items },
      actions: actions.total + inboxActions,
      amazonCalls: sum(amazonByOperation),
      amazonByOperation,
      merchantEvents: diff(eventsOf(), eventsBefore),
      seconds,
    });
    runId = next;
  }
  const steady = cycles.slice(1);
  return {
    options,
    cycles,
    steady: {
      cycles: steady.length,
      actions: mean(steady.map((c) => c.actions)),
      runEvents: mean(steady.map((c) => c.run.events)),
      events: mean(steady.map((c) => c.run.events + c.inbox.events)),
      amazonCalls: mean(steady.map((c) => c.amazonCalls)),
      historyAtContinueAsNew: Math.max(...cycles.map((c) => c.run.events)),
    },
  };
}
