// P4: what one happy checkout costs, one checkout at a time with the simulator's IPNs on (they are
// part of every real checkout): Temporal Cloud billable actions counted from the checkout's and its
// notification inbox's real histories (bench/actions.ts), queries counted at the API's client
// (they leave no history), and Amazon Pay API calls counted by the simulator. Measured twice per
// checkout: once settled after its last storefront step, and once the merchant has closed the
// order and both workflows are done with it (the order's whole life, except the inbox's 7-day
// linger timer firing, which costs nothing more).
import type { Client, WorkflowHandle } from '@temporalio/client';
import type proto from '@temporalio/proto';
import { checkoutWorkflowId, statusQuery, type PaymentIntent } from '../workflows/checkout-messages';
import { notificationInboxQuery, notificationInboxWorkflowId } from '../workflows/notifications';
import { countBillableActions, type ActionCount } from './actions';
import type { Storefront } from './storefront';
import { until, type BenchStack, type ClientCalls } from './support';

export interface CostSnapshot {
  actions: ActionCount;
  /** Billable actions plus the queries the API sent (not in any history). */
  total: number;
  queries: number;
  clientCalls: ClientCalls;
  amazonCalls: number;
  amazonByOperation: Record<string, number>;
  historyEvents: { checkout: number; inbox: number };
  /**
   * Heartbeats are billable but leave no history; Amazon activities heartbeat every second while a
   * call is in flight (activities/amazon-pay.ts), so one that never ran 1 s sent none.
   */
  longestActivityMs: number;
}

export interface PathCost {
  intent: PaymentIntent;
  steps: string;
  checkouts: number;
  /** The first checkout's breakdown; `totals` lists every checkout's, which should agree. */
  settled: CostSnapshot;
  closed: CostSnapshot;
  totals: { settled: number[]; closed: number[]; amazonSettled: number[]; amazonClosed: number[] };
  /** Each checkout's whole-life actions by kind, to show which kinds vary from one to the next. */
  kindsClosed: ActionCount['byKind'][];
}

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)])
      .filter(([, v]) => (v as number) > 0),
  ) as Record<string, number>;

const millis = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds?.toString() ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

/** From an activity's Started event to its end (completed, failed, timed out), the longest in these histories. */
function longestActivityMs(histories: proto.temporal.api.history.v1.IHistory[]): number {
  let longest = 0;
  for (const h of histories) {
    const started = new Map<string, number>();
    for (const e of h.events ?? []) {
      if (e.activityTaskStartedEventAttributes)
        started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), millis(e.eventTime));
      const end =
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes;
      const from = end ? started.get(String(end.scheduledEventId)) : undefined;
      if (from !== undefined) longest = Math.max(longest, millis(e.eventTime) - from);
    }
  }
  return longest;
}

export const quietWorkflow = async (handle: WorkflowHandle) => {
  const d = await handle.describe().catch(() => null);
  return d !== null && (d.raw.pendingActivities ?? []).length === 0 && !d.raw.pendingWorkflowTask;
};

export async function runCost(
  stack: BenchStack,
  storefront: Storefront,
  options: { checkoutsPerPath: number },
): Promise<PathCost[]> {
  const { observer, simulator, admin } = stack;
  simulator.configureIpn({ url: storefront.ipnUrl });
  try {
    const paths: PathCost[] = [];
    for (const intent of ['Authorize', 'AuthorizeWithCapture'] as const) {
      let path: PathCost | undefined;
      for (let i = 0; i < options.checkoutsPerPath; i++) {
        const { settled, closed } = await oneCheckout(stack, storefront, observer, intent, i);
        path ??= {
          intent,
          steps: intent === 'Authorize' ? 'review, amount, complete, capture' : 'review, amount, complete',
          checkouts: 0,
          settled,
          closed,
          totals: { settled: [], closed: [], amazonSettled: [], amazonClosed: [] },
          kindsClosed: [],
        };
        path.checkouts++;
        path.totals.settled.push(settled.total);
        path.totals.closed.push(closed.total);
        path.totals.amazonSettled.push(settled.amazonCalls);
        path.totals.amazonClosed.push(closed.amazonCalls);
        path.kindsClosed.push(closed.actions.byKind);
      }
      paths.push(path!);
    }
    return paths;
  } finally {
    simulator.configureIpn({ url: '' });
  }

  async function oneCheckout(
    stack: BenchStack,
    storefront: Storefront,
    observer: Client,
    intent: PaymentIntent,
    n: number,
  ) {
    const callsBefore = { ...stack.calls };
    const amazonBefore = (await admin.requestCounts()).byOperation;
    const id = await storefront.checkout(10_000 + n, { intent });
    const checkout = observer.workflow.getHandle(checkoutWorkflowId(id));
    const { chargePermissionId } = await checkout.query(statusQuery);
    const inbox = observer.workflow.getHandle(notificationInboxWorkflowId(chargePermissionId!));

    const settle = async (what: string) => {
      await simulator.ipn.idle(30_000);
      await until(
        async () => {
          const delivered = simulator.ipn
            .stats()
            .recent.filter((r) => r.chargePermissionId === chargePermissionId && r.status === 'delivered').length;
          const view = await inbox.query(notificationInboxQuery).catch(() => null);
          if (!view || view.waiting.length > 0 || view.counts.received < delivered) return false;
          if (!(await quietWorkflow(checkout)) || !(await quietWorkflow(inbox))) return false;
          const signals =
            countBillableActions(await checkout.fetchHistory()).items.find(
              (x) => x.kind === 'signal' && x.name === 'amazonPayNotification',
            )?.count ?? 0;
          return signals === view.counts.forwarded;
        },
        (ok) => ok,
        30_000,
        `checkout ${id} to settle (${what})`,
      );
      const histories = [await checkout.fetchHistory(), await inbox.fetchHistory()];
      const actions = countBillableActions(histories);
      const clientCalls = diff(stack.calls, callsBefore);
      const queries = Object.entries(clientCalls)
        .filter(([k]) => k.startsWith('query '))
        .reduce((a, [, v]) => a + v, 0);
      const amazonByOperation = diff((await admin.requestCounts()).byOperation, amazonBefore);
      return {
        actions,
        total: actions.total + queries,
        queries,
        clientCalls,
        amazonCalls: Object.values(amazonByOperation).reduce((a, b) => a + b, 0),
        amazonByOperation,
        historyEvents: { checkout: histories[0]!.events?.length ?? 0, inbox: histories[1]!.events?.length ?? 0 },
        longestActivityMs: longestActivityMs(histories),
      } satisfies CostSnapshot;
    };

    const settled = await settle('after its last step');
    await storefront.call('POST', `/v1/checkouts/${id}/close`, { reason: 'Order shipped' });
    await checkout.result();
    await until(
      () => inbox.query(notificationInboxQuery),
      (v) => v.ownerClosed,
      30_000,
      'inbox to learn its owner closed',
    );
    const closed = await settle('after close');
    return { settled, closed };
  }
}
