// P1 (throughput) and P2 (step latency): full checkouts through our API, 20 storefronts at a time,
// against bare workflows that make the same updates and run the same number of no-op activities
// (bench/bare/workflows.ts), on the same dev server in the same run. Rounds alternate bare and
// ours so that load from elsewhere on the machine hits both alike.
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { checkoutWorkflowId, statusQuery } from '../workflows/checkout-messages';
import { notificationInboxWorkflowId } from '../workflows/notifications';
import { countBillableActions } from './actions';
import { CHECKOUT_SHAPE } from './bare/workflows';
import { cpuClock, emptySteps, STEPS, type Step, type StepTimes, type Storefront } from './storefront';
import { pool, type BenchStack } from './support';

export interface ThroughputOptions {
  checkouts: number;
  concurrency: number;
  rounds: number;
}

export interface Side {
  checkouts: number;
  seconds: number;
  perSecond: number;
  failures: string[];
  steps: StepTimes;
  /** CPU per checkout: this process (API, worker, simulator) and the dev server. */
  cpuMsPerCheckout: { node: number; devServer: number };
}

export interface ThroughputResult {
  options: ThroughputOptions;
  ours: Side;
  bare: Side;
  ratio: number;
  /**
   * One checkout's histories, ours (checkout and the inbox it registers with) against bare: the same
   * updates and activities (or the baseline is wrong), and what else ours makes Temporal do.
   */
  shapeCheck: { ours: Shape; bare: Shape; same: boolean };
}

export interface Shape {
  updates: number;
  activities: number;
  actions: number;
  events: number;
  workflowTasks: number;
  workflows: number;
  byKind: ReturnType<typeof countBillableActions>['byKind'];
}

const BARE_UPDATE: Record<Step, string> = {
  review: 'review',
  amount: 'setFinalAmount',
  complete: 'complete',
  capture: 'capture',
};

export async function runThroughput(
  stack: BenchStack,
  storefront: Storefront,
  options: ThroughputOptions,
): Promise<ThroughputResult> {
  const { plain, bareTaskQueue } = stack.baselines!;
  const bareCheckout = async (times?: StepTimes) => {
    const workflowId = `bare-${randomUUID()}`;
    const t0 = performance.now();
    await plain.workflow.executeUpdateWithStart(BARE_UPDATE.review, {
      startWorkflowOperation: new WithStartWorkflowOperation('bareCheckout', {
        workflowId,
        taskQueue: bareTaskQueue,
        args: [CHECKOUT_SHAPE],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    times?.review.push(performance.now() - t0);
    const handle = plain.workflow.getHandle(workflowId);
    for (const step of STEPS.slice(1)) {
      const t = performance.now();
      await handle.executeUpdate(BARE_UPDATE[step], { args: [{}] });
      times?.[step].push(performance.now() - t);
    }
    return workflowId;
  };

  // Warm-up (bundles loaded, JIT, first workflow tasks), and one history of each to compare shapes.
  const warm = await Promise.all([0, 1, 2, 3].map((n) => storefront.checkout(-1 - n)));
  const warmBare = await Promise.all([0, 1, 2, 3].map(() => bareCheckout()));
  const shapeOf = async (client: typeof plain, workflowIds: string[]): Promise<Shape> => {
    const histories = await Promise.all(workflowIds.map((id) => client.workflow.getHandle(id).fetchHistory()));
    const { byKind, total } = countBillableActions(histories);
    const events = histories.flatMap((h) => h.events ?? []);
    const workflowTasks = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    return {
      updates: byKind.update ?? 0,
      activities: byKind.activity ?? 0,
      actions: total,
      events: events.length,
      workflowTasks,
      workflows: histories.length,
      byKind,
    };
  };
  const { chargePermissionId } = await stack.observer.workflow
    .getHandle(checkoutWorkflowId(warm[0]!))
    .query(statusQuery);
  const shapeOurs = await shapeOf(stack.observer, [
    checkoutWorkflowId(warm[0]!),
    notificationInboxWorkflowId(chargePermissionId!),
  ]);
  const shapeBare = await shapeOf(plain, [warmBare[0]!]);

  const sides = { ours: newSide(), bare: newSide() };
  const cpu = { ours: { node: 0, devServer: 0 }, bare: { node: 0, devServer: 0 } };
  let serial = 0;
  for (let round = 0; round < options.rounds; round++) {
    for (const which of ['bare', 'ours'] as const) {
      const side = sides[which];
      const clock = cpuClock(stack.dev.process.pid);
      const run = await pool(options.checkouts, options.concurrency, async () => {
        if (which === 'ours') await storefront.checkout(serial++, { times: side.steps });
        else await bareCheckout(side.steps);
      });
      const used = clock();
      cpu[which].node += used.nodeMs;
      cpu[which].devServer += used.devServerMs;
      side.checkouts += options.checkouts;
      side.seconds += run.seconds;
      side.failures.push(...run.failures);
    }
  }
  for (const which of ['ours', 'bare'] as const) {
    const side = sides[which];
    const done = side.checkouts - side.failures.length;
    side.perSecond = done / side.seconds;
    side.cpuMsPerCheckout = {
      node: cpu[which].node / side.checkouts,
      devServer: cpu[which].devServer / side.checkouts,
    };
  }
  return {
    options,
    ours: sides.ours,
    bare: sides.bare,
    ratio: sides.ours.perSecond / sides.bare.perSecond,
    shapeCheck: {
      ours: shapeOurs,
      bare: shapeBare,
      same: shapeOurs.updates === shapeBare.updates && shapeOurs.activities === shapeBare.activities,
    },
  };
}

function newSide(): Side {
  return {
    checkouts: 0,
    seconds: 0,
    perSecond: 0,
    failures: [],
    steps: emptySteps(),
    cpuMsPerCheckout: { node: 0, devServer: 0 },
  };
}
