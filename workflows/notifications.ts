import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { amazonPayNotificationSignal, type AmazonPayNotification } from './notification-messages';
import { Deadlines } from './payments/deadlines';
import { NotificationStatus } from './search-attributes';

/**
 * Routing of Amazon Pay IPNs to the workflow that owns a charge permission.
 *
 * Why a durable inbox per charge permission (workflow id `amazon-pay-cp-<chargePermissionId>`):
 * IPNs name the ChargePermissionId, not our checkout session, and the owner (checkout-<sessionId>,
 * later subscription workflows) learns that id only after Complete. An IPN can therefore arrive
 * before the owner knows it (race) or after the owner ended (late). A lookup table in the API
 * would need its own store and would have to answer "unknown, try later" with a 5xx, turning
 * every race into an hour-long SNS retry. Instead the endpoint does one `signalWithStart` on the
 * inbox, which is durable as soon as Temporal accepts it, and the inbox:
 *   - buffers notifications until an owner registers (registerNotificationOwner activity);
 *   - dedupes on SNS MessageId and Amazon NotificationId (SNS redeliveries, duplicates);
 *   - forwards each notification to the owner with `amazonPayNotificationSignal`;
 *   - records notifications that reach it after the owner ended as "late" (query + search
 *     attribute NotificationStatus='Late'); they roll nothing back because owners treat IPNs as
 *     hints and only apply forward transitions after a GET. An owner that ends says so
 *     (notificationOwnerClosed); one that was terminated is found out by the next forward, which
 *     fails;
 *   - marks itself NotificationStatus='Unmatched' when nobody claims the charge permission within
 *     `unmatchedAfterMs` (another shop on the same merchant account, objects we never created):
 *     `temporal workflow list --query "NotificationStatus='Unmatched'"` lists them. It first asks
 *     the visibility store for a workflow carrying AmazonChargePermissionId=<id>, which heals a
 *     missed registration and attributes IPNs that arrive after this inbox has ended.
 *
 * Cost (each action is billed by Temporal Cloud): while its owner runs, the inbox sets no timer and
 * runs no activity; each IPN costs its signal and one forward. NotificationStatus is upserted only
 * when an operator should look (Unmatched, Late) or to clear such a value, not on every routing.
 *
 * Life bound: the inbox continues-as-new when its history grows (state carried over), ends
 * `lingerAfterOwnerClosedMs` after its owner closed, and ends `retainUnmatchedMs` after the last
 * notification when no owner ever appeared (its result lists what was never routed). A later IPN
 * simply starts a new inbox run with the same id.
 */

export const notificationInboxWorkflowId = (chargePermissionId: string): string =>
  `amazon-pay-cp-${chargePermissionId}`;

export interface NotificationOwnerRef {
  chargePermissionId: string;
  ownerWorkflowId: string;
}

type ObjectType = AmazonPayNotification['objectType'];

export interface NotificationOwnerRegistration {
  ownerWorkflowId: string;
  /**
   * The object types the owner acts on (absent: all). The others are counted as `skipped`, not
   * forwarded: each forward is a signal the owner is billed for.
   */
  objectTypes?: ObjectType[];
}

export const registerNotificationOwnerSignal =
  defineSignal<[NotificationOwnerRegistration]>('registerNotificationOwner');
export const notificationOwnerClosedSignal = defineSignal<[{ ownerWorkflowId: string }]>('notificationOwnerClosed');

/**
 * patched() id: runs recorded before it polled the owner every day (a timer and an activity per
 * day, the timer restarted after every IPN) and upserted NotificationStatus on every change.
 */
export const INBOX_QUIET_ROUTING = 'inbox-quiet-routing';
/** NotificationStatus values an operator should look at; the others are upserted only to clear these. */
const ATTENTION: ReadonlySet<NotificationStatusValue> = new Set(['Unmatched', 'Late']);

export type NotificationStatusValue = 'AwaitingOwner' | 'Routing' | 'Unmatched' | 'Late' | 'OwnerClosed';

export interface NotificationInboxOptions {
  /** No owner after this long: look one up, else mark Unmatched. Default 15 minutes. */
  unmatchedAfterMs?: number;
  /** End an ownerless inbox this long after its last notification. Default 30 days. */
  retainUnmatchedMs?: number;
  /** Keep recording late IPNs this long after the owner closed. Default 7 days. */
  lingerAfterOwnerClosedMs?: number;
  /**
   * While an owner is registered, check this often that it still runs (it may have been
   * terminated without saying so). Default: never; the next IPN's forward finds it out. Each check
   * is a timer and an activity, billed.
   */
  ownerCheckIntervalMs?: number;
  /** Continue-as-new beyond this many history events (or when the server suggests it). Default 2000. */
  maxHistoryEvents?: number;
  /** How many MessageIds/NotificationIds are remembered for dedupe. Default 500. */
  dedupeWindow?: number;
  /** Upsert NotificationStatus. Default true; off only where the attribute is not registered. */
  searchAttributes?: boolean;
}

interface LateNotification {
  notification: AmazonPayNotification;
  ownerWorkflowId: string | null;
  recordedAt: string;
}

interface InboxState {
  chargePermissionId: string;
  owner: { workflowId: string; registeredAt: string; closedAt: string | null; objectTypes?: ObjectType[] } | null;
  /** Notifications waiting for an owner, in arrival order. */
  queue: AmazonPayNotification[];
  seenIds: string[];
  late: LateNotification[];
  counts: { received: number; duplicates: number; forwarded: number; late: number; skipped?: number };
  status: NotificationStatusValue;
  /** Epoch ms of the last notification received (drives the unmatched timers). */
  lastReceivedAt: number | null;
  /** Epoch ms of the first notification still waiting without an owner. */
  awaitingSince: number | null;
  ownerLookupDone: boolean;
  startedAt: string;
  /** NotificationStatus last upserted (carried over: the server keeps the attribute across runs). */
  attribute?: NotificationStatusValue | null;
}

export interface NotificationInboxInput {
  chargePermissionId: string;
  options?: NotificationInboxOptions;
  /** Carried over by continue-as-new. */
  state?: InboxState;
}

export interface NotificationInboxView {
  chargePermissionId: string;
  status: NotificationStatusValue;
  ownerWorkflowId: string | null;
  ownerClosed: boolean;
  waiting: AmazonPayNotification[];
  late: LateNotification[];
  counts: InboxState['counts'];
}

export type NotificationInboxResult = NotificationInboxView & { endedBecause: 'ownerClosed' | 'unmatchedRetention' };

export const notificationInboxQuery = defineQuery<NotificationInboxView>('notificationInbox');

const LATE_KEPT = 100;

const { findNotificationOwner, describeNotificationOwner } = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { maximumAttempts: 5, initialInterval: '1 second' },
});

export async function notificationInboxWorkflow(input: NotificationInboxInput): Promise<NotificationInboxResult> {
  // Decided once per run, at its first task: a run recorded before the change replays the old way.
  const quiet = patched(INBOX_QUIET_ROUTING);
  const opts = {
    unmatchedAfterMs: input.options?.unmatchedAfterMs ?? 15 * 60_000,
    retainUnmatchedMs: input.options?.retainUnmatchedMs ?? 30 * 24 * 3600_000,
    lingerAfterOwnerClosedMs: input.options?.lingerAfterOwnerClosedMs ?? 7 * 24 * 3600_000,
    ownerCheckIntervalMs: input.options?.ownerCheckIntervalMs ?? (quiet ? undefined : 24 * 3600_000),
    maxHistoryEvents: input.options?.maxHistoryEvents ?? 2000,
    dedupeWindow: input.options?.dedupeWindow ?? 500,
    searchAttributes: input.options?.searchAttributes ?? true,
  };
  const state: InboxState = input.state ?? {
    chargePermissionId: input.chargePermissionId,
    owner: null,
    queue: [],
    seenIds: [],
    late: [],
    counts: { received: 0, duplicates: 0, forwarded: 0, late: 0 },
    status: 'AwaitingOwner',
    lastReceivedAt: null,
    awaitingSince: null,
    ownerLookupDone: false,
    startedAt: new Date().toISOString(),
  };
  // A run continued from one recorded before the change: the server carried what it upserted.
  if (quiet && state.attribute === undefined)
    state.attribute =
      (workflowInfo().typedSearchAttributes.get(NotificationStatus) as NotificationStatusValue | undefined) ?? null;
  const seen = new Set(state.seenIds);
  let changes = 0;
  let publishedStatus: NotificationStatusValue | null = null;

  const upsertStatus = () => {
    if (!opts.searchAttributes) return;
    if (!quiet) {
      upsertSearchAttributes([{ key: NotificationStatus, value: state.status }]);
      return;
    }
    const last = state.attribute ?? null;
    if (last === state.status || (!ATTENTION.has(state.status) && (last === null || !ATTENTION.has(last)))) return;
    state.attribute = state.status;
    upsertSearchAttributes([{ key: NotificationStatus, value: state.status }]);
  };

  const publish = () => {
    if (publishedStatus === state.status) return;
    publishedStatus = state.status;
    upsertStatus();
    setCurrentDetails(
      `Charge permission ${state.chargePermissionId}: ${state.status}; owner ${state.owner?.workflowId ?? 'none'}` +
        `${state.owner?.closedAt ? ' (closed)' : ''}; received ${state.counts.received}, forwarded ${state.counts.forwarded}, ` +
        `waiting ${state.queue.length}, late ${state.counts.late}`,
    );
  };

  const rememberId = (id: string) => {
    seen.add(id);
    state.seenIds.push(id);
    while (state.seenIds.length > opts.dedupeWindow * 2) seen.delete(state.seenIds.shift()!);
  };

  const recordLate = (n: AmazonPayNotification) => {
    state.counts.late += 1;
    state.late.push({
      notification: n,
      ownerWorkflowId: state.owner?.workflowId ?? null,
      recordedAt: new Date().toISOString(),
    });
    if (state.late.length > LATE_KEPT) state.late.shift();
    state.status = 'Late';
    log.warn('Late Amazon Pay notification: owner already ended', {
      chargePermissionId: state.chargePermissionId,
      ownerWorkflowId: state.owner?.workflowId ?? null,
      messageId: n.messageId,
      notificationId: n.notificationId,
      objectType: n.objectType,
      objectId: n.objectId,
    });
  };

  const setOwner = (ownerWorkflowId: string, closed: boolean, objectTypes?: ObjectType[]) => {
    const now = new Date().toISOString();
    if (state.owner?.workflowId !== ownerWorkflowId || (state.owner.closedAt && !closed)) {
      state.owner = { workflowId: ownerWorkflowId, registeredAt: now, closedAt: closed ? now : null };
    }
    if (objectTypes) state.owner.objectTypes = objectTypes;
    state.awaitingSince = null;
    state.status = closed ? (state.counts.late > 0 ? 'Late' : 'OwnerClosed') : 'Routing';
  };

  const view = (): NotificationInboxView => ({
    chargePermissionId: state.chargePermissionId,
    status: state.status,
    ownerWorkflowId: state.owner?.workflowId ?? null,
    ownerClosed: state.owner?.closedAt != null,
    waiting: [...state.queue],
    late: [...state.late],
    counts: { ...state.counts },
  });

  setHandler(amazonPayNotificationSignal, (n) => {
    changes += 1;
    if (seen.has(n.messageId) || seen.has(n.notificationId)) {
      state.counts.duplicates += 1;
      return;
    }
    rememberId(n.messageId);
    if (n.notificationId !== n.messageId) rememberId(n.notificationId);
    state.counts.received += 1;
    state.lastReceivedAt = Date.now();
    if (!state.owner && state.awaitingSince === null) state.awaitingSince = Date.now();
    state.queue.push(n);
  });
  setHandler(registerNotificationOwnerSignal, ({ ownerWorkflowId, objectTypes }) => {
    changes += 1;
    setOwner(ownerWorkflowId, false, objectTypes);
  });
  setHandler(notificationOwnerClosedSignal, ({ ownerWorkflowId }) => {
    changes += 1;
    if (state.owner?.workflowId === ownerWorkflowId && !state.owner.closedAt) {
      state.owner.closedAt = new Date().toISOString();
      state.status = state.counts.late > 0 ? 'Late' : 'OwnerClosed';
    }
  });
  setHandler(notificationInboxQuery, view);

  // Quiet runs count each interval from the last check (or the first wait), on one timer per
  // interval however many IPNs come in between (each started timer is billed).
  let nextOwnerCheck: number | null = quiet ? null : Date.now() + opts.ownerCheckIntervalMs!;
  const deadlines = new Deadlines();
  const checkOwner = async (owner: NonNullable<InboxState['owner']>) => {
    // Unknown (the check failed) counts as still running: we look again at the next interval.
    const ownerState = await describeNotificationOwner({ ownerWorkflowId: owner.workflowId }).catch((err: unknown) => {
      log.warn('Notification owner check failed; trying again later', {
        ownerWorkflowId: owner.workflowId,
        error: (err as Error).message,
      });
      return 'Running' as const;
    });
    if (ownerState !== 'Running' && state.owner && !state.owner.closedAt) {
      state.owner.closedAt = new Date().toISOString();
      state.status = state.counts.late > 0 ? 'Late' : 'OwnerClosed';
    }
  };

  for (;;) {
    // Route what is waiting. Signals arriving meanwhile land in the queue and are handled next turn.
    while (state.queue.length > 0 && state.owner) {
      const n = state.queue[0]!;
      if (state.owner.closedAt) {
        recordLate(n);
      } else if (state.owner.objectTypes && !state.owner.objectTypes.includes(n.objectType)) {
        state.counts.skipped = (state.counts.skipped ?? 0) + 1;
      } else {
        try {
          await getExternalWorkflowHandle(state.owner.workflowId).signal(amazonPayNotificationSignal, n);
          state.counts.forwarded += 1;
        } catch (err) {
          // The only failure of an external signal is "not found": the owner has ended.
          log.info('Notification owner no longer running', {
            ownerWorkflowId: state.owner.workflowId,
            error: (err as Error).message,
          });
          state.owner.closedAt = new Date().toISOString();
          recordLate(n);
        }
      }
      state.queue.shift();
    }

    const now = Date.now();
    if (
      !state.owner &&
      state.queue.length > 0 &&
      state.awaitingSince !== null &&
      now >= state.awaitingSince + opts.unmatchedAfterMs
    ) {
      if (!state.ownerLookupDone) {
        state.ownerLookupDone = true;
        // A failed lookup (Temporal's visibility unreachable past the activity's retries) must not
        // fail the inbox and lose its queue: the IPNs stay recorded as Unmatched for an operator,
        // and an owner that registers later still claims them.
        const found = await findNotificationOwner({
          chargePermissionId: state.chargePermissionId,
          excludeWorkflowId: workflowInfo().workflowId,
        }).catch((err: unknown) => {
          log.error('Notification owner lookup failed', {
            chargePermissionId: state.chargePermissionId,
            error: (err as Error).message,
          });
          return null;
        });
        if (found) {
          setOwner(found.workflowId, !found.running);
          continue;
        }
      }
      if (state.status !== 'Unmatched') {
        state.status = 'Unmatched';
        log.warn('Amazon Pay notifications without an owner', {
          chargePermissionId: state.chargePermissionId,
          waiting: state.queue.length,
          notificationIds: state.queue.map((q) => q.notificationId),
        });
      }
    }
    publish();

    // Decide when to wake up unless a signal comes first.
    let wakeAt: number | null = null;
    let ownerCheckWait = false;
    let endBecause: NotificationInboxResult['endedBecause'] | null = null;
    if (state.owner?.closedAt) {
      const endAt = Date.parse(state.owner.closedAt) + opts.lingerAfterOwnerClosedMs;
      if (now >= endAt) endBecause = 'ownerClosed';
      wakeAt = endAt;
    } else if (state.owner && opts.ownerCheckIntervalMs !== undefined) {
      // Quiet runs get here only when the merchant asked for owner checks; otherwise they wait for messages alone.
      nextOwnerCheck ??= now + opts.ownerCheckIntervalMs;
      if (now >= nextOwnerCheck) {
        await checkOwner(state.owner);
        nextOwnerCheck = quiet ? null : Date.now() + opts.ownerCheckIntervalMs;
        continue;
      }
      wakeAt = nextOwnerCheck;
      ownerCheckWait = quiet;
    } else if (!state.owner) {
      const base = state.lastReceivedAt ?? Date.parse(state.startedAt);
      const endAt = base + opts.retainUnmatchedMs;
      if (now >= endAt) endBecause = 'unmatchedRetention';
      wakeAt =
        state.status === 'Unmatched' || state.awaitingSince === null
          ? endAt
          : Math.min(endAt, state.awaitingSince + opts.unmatchedAfterMs);
    }

    if (endBecause) {
      const before = changes;
      await condition(allHandlersFinished);
      // Something arrived while finishing: route or record it first.
      if (changes !== before) continue;
      publish();
      return { ...view(), endedBecause: endBecause };
    }

    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > opts.maxHistoryEvents) {
      await condition(allHandlersFinished);
      if (state.queue.length === 0 || !state.owner) {
        return continueAsNew<typeof notificationInboxWorkflow>({
          chargePermissionId: state.chargePermissionId,
          options: input.options,
          state,
        });
      }
      continue;
    }

    const seenChanges = changes;
    if (wakeAt === null) await condition(() => changes !== seenChanges);
    else if (ownerCheckWait) await deadlines.until(() => changes !== seenChanges, wakeAt);
    else await condition(() => changes !== seenChanges, Math.max(1, wakeAt - Date.now()));
  }
}
