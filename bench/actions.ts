/**
 * Temporal Cloud billable actions, counted from event histories by the rules Temporal publishes
 * ("Temporal Cloud Actions", docs.temporal.io/cloud/actions):
 *   - workflow started (client start, continue-as-new run, child start; signal-with-start and
 *     update-with-start included): 1. A signal-with-start that starts the workflow is one action
 *     in all, so its signal is not counted again;
 *   - activity scheduled: 1, and each retry: 1 (the attempt number on its Started event, minus 1);
 *   - timer started: 1 (TypeScript `condition(fn, timeout)` and `sleep` start one each time);
 *   - search attribute upsert: 1 per command, except one that only sets TemporalChangeVersion
 *     (written by `patched()`), which is exempt;
 *   - signal received: 1 (from a client or from another workflow; a workflow's external signal is
 *     billed once, here on the receiving side, not on SignalExternalWorkflowExecutionInitiated);
 *   - update accepted: 1 (a rejected update costs 1 too but is never written to history);
 *   - local activity / side effect markers: 1 per workflow task that records any;
 *   - child workflow initiated: 2; workflow options updated: 1; Nexus operation scheduled or
 *     cancel requested: 1.
 * Not billed by those rules and reported as `free` for information: patch markers (`core_patch`),
 * external signals initiated, update completions, workflow tasks.
 * Not in histories at all (count them elsewhere): queries, activity heartbeats, rejected updates.
 * Continue-as-new: each run's Started event is counted, so pass every run's history.
 */
import proto from '@temporalio/proto';

const { EventType } = proto.temporal.api.enums.v1;
type History = proto.temporal.api.history.v1.IHistory;
type Event = proto.temporal.api.history.v1.IHistoryEvent;

export type ActionKind =
  | 'workflow start'
  | 'activity'
  | 'activity retry'
  | 'timer'
  | 'search attribute upsert'
  | 'signal'
  | 'update'
  | 'markers'
  | 'child workflow'
  | 'workflow options'
  | 'nexus';

/** One line of the breakdown: `count` events of this kind and name, costing `actions`. */
export interface ActionItem {
  kind: ActionKind | 'free';
  name: string;
  count: number;
  actions: number;
}

export interface ActionCount {
  total: number;
  byKind: Partial<Record<ActionKind, number>>;
  items: ActionItem[];
}

const typeName = (e: Event): string => {
  const t = e.eventType;
  const name = typeof t === 'number' ? EventType[t] : String(t ?? '');
  return (name ?? '').replace(/^EVENT_TYPE_/, '');
};

const seconds = (d: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  Number(d?.seconds?.toString() ?? 0) + (d?.nanos ?? 0) / 1e9;

/** 86400 s -> "1d", 90 s -> "1m30s": timers are told apart by their duration. */
export function durationLabel(totalSeconds: number): string {
  if (totalSeconds < 1) return `${Math.round(totalSeconds * 1000)}ms`;
  const parts: string[] = [];
  let s = Math.round(totalSeconds);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.slice(0, 2).join('');
}

/**
 * Counts the billable actions of one or more histories (a checkout and its notification inbox,
 * every run of a continued-as-new workflow). Pure: give it what `handle.fetchHistory()` returns or
 * what `historyFromJSON` reads from a fixture.
 */
export function countBillableActions(histories: History | History[]): ActionCount {
  const items = new Map<string, ActionItem>();
  const add = (kind: ActionItem['kind'], name: string, actions: number, count = 1) => {
    const key = `${kind}\u0000${name}`;
    const item = items.get(key) ?? { kind, name, count: 0, actions: 0 };
    item.count += count;
    item.actions += actions;
    items.set(key, item);
  };

  for (const history of Array.isArray(histories) ? histories : [histories]) {
    const events = history.events ?? [];
    const scheduled = new Map<string, string>(); // activity scheduled event id -> activity type
    const markerTasks = new Set<string>();
    // Signal-with-start writes Started then Signaled before the first workflow task is scheduled.
    const startedBySignal =
      typeName(events[0] ?? {}) === 'WORKFLOW_EXECUTION_STARTED' &&
      typeName(events[1] ?? {}) === 'WORKFLOW_EXECUTION_SIGNALED';

    events.forEach((e, index) => {
      switch (typeName(e)) {
        case 'WORKFLOW_EXECUTION_STARTED': {
          const a = e.workflowExecutionStartedEventAttributes;
          const how = a?.continuedExecutionRunId ? 'continue-as-new' : startedBySignal ? 'signal-with-start' : 'start';
          add('workflow start', `${a?.workflowType?.name ?? '?'} (${how})`, 1);
          break;
        }
        case 'WORKFLOW_EXECUTION_SIGNALED': {
          const name = e.workflowExecutionSignaledEventAttributes?.signalName ?? '?';
          if (startedBySignal && index === 1) add('free', `signal ${name} (its signal-with-start is the start)`, 0);
          else add('signal', name, 1);
          break;
        }
        case 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED':
          add('update', e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? '?', 1);
          break;
        case 'ACTIVITY_TASK_SCHEDULED': {
          const name = e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
          scheduled.set(String(e.eventId), name);
          add('activity', name, 1);
          break;
        }
        case 'ACTIVITY_TASK_STARTED': {
          const a = e.activityTaskStartedEventAttributes;
          const retries = (a?.attempt ?? 1) - 1;
          if (retries > 0) add('activity retry', scheduled.get(String(a?.scheduledEventId)) ?? '?', retries, retries);
          break;
        }
        case 'TIMER_STARTED':
          add('timer', durationLabel(seconds(e.timerStartedEventAttributes?.startToFireTimeout)), 1);
          break;
        case 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES': {
          const keys = Object.keys(
            e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
          ).sort();
          if (keys.length === 1 && keys[0] === 'TemporalChangeVersion')
            add('free', 'upsert TemporalChangeVersion (patched)', 0);
          else add('search attribute upsert', keys.join(','), 1);
          break;
        }
        case 'MARKER_RECORDED': {
          const a = e.markerRecordedEventAttributes;
          const name = a?.markerName ?? '?';
          if (name === 'core_patch') {
            add('free', 'patch marker', 0);
          } else {
            const task = String(a?.workflowTaskCompletedEventId ?? e.eventId);
            add('markers', name, markerTasks.has(task) ? 0 : 1);
            markerTasks.add(task);
          }
          break;
        }
        case 'START_CHILD_WORKFLOW_EXECUTION_INITIATED':
          add('child workflow', e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ?? '?', 2);
          break;
        case 'WORKFLOW_EXECUTION_OPTIONS_UPDATED':
          add('workflow options', 'options updated', 1);
          break;
        case 'NEXUS_OPERATION_SCHEDULED':
        case 'NEXUS_OPERATION_CANCEL_REQUESTED':
          add('nexus', typeName(e).toLowerCase(), 1);
          break;
        case 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED':
          add(
            'free',
            `external signal ${e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName ?? '?'} sent (billed where received)`,
            0,
          );
          break;
        default:
          break;
      }
    });
  }

  const list = [...items.values()].sort(
    (a, b) => b.actions - a.actions || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name),
  );
  const byKind: ActionCount['byKind'] = {};
  let total = 0;
  for (const item of list) {
    if (item.kind === 'free') continue;
    byKind[item.kind] = (byKind[item.kind] ?? 0) + item.actions;
    total += item.actions;
  }
  return { total, byKind, items: list };
}
