import { Hono } from 'hono';
import { z } from 'zod';
import { type FaultState, type RequestCounts, requestCountsJson } from './api';
import type { SimClock } from './clock';
import type { SimulatorEngine } from './engine';
import type { OperationName } from './model';
import type { ThrottlingSetting, Throttle } from './throttle';
import { chargePermissionView, chargeView, checkoutSessionView, refundView } from './views';

export interface AdminDeps {
  engine: SimulatorEngine;
  clock: SimClock;
  throttle: Throttle;
  faults: FaultState;
  counts: RequestCounts;
  reset: () => void;
  registerPublicKey: (publicKeyId: string, pem: string, merchantId?: string) => void;
  configureIpn: (options: Record<string, unknown>) => void;
  ipnStats: () => unknown;
  publicBaseUrl: () => string | undefined;
}

const OPERATIONS = [
  'createCheckoutSession',
  'getCheckoutSession',
  'updateCheckoutSession',
  'completeCheckoutSession',
  'getChargePermission',
  'updateChargePermission',
  'closeChargePermission',
  'createCharge',
  'getCharge',
  'captureCharge',
  'cancelCharge',
  'createRefund',
  'getRefund',
] as const satisfies readonly OperationName[];

const quotaSchema = z.strictObject({ maxQuota: z.number().positive(), restorePerSecond: z.number().nonnegative() });
export const throttlingSchema = z.union([
  z.enum(['sandbox', 'live', 'off']),
  z.partialRecord(z.enum(OPERATIONS), quotaSchema),
]);

const faultsSchema = z.strictObject({
  errorRate: z.number().min(0).max(1).optional(),
  throttleRate: z.number().min(0).max(1).optional(),
  latencyMs: z.number().int().min(0).optional(),
  throttling: throttlingSchema.optional(),
  holdResponses: z
    .strictObject({
      operation: z.enum(OPERATIONS),
      ms: z.number().int().min(0),
      count: z.number().int().positive().optional(),
    })
    .nullable()
    .optional(),
});

const advanceSchema = z.strictObject({ ms: z.number().int().nonnegative() });
const publicKeySchema = z.strictObject({
  publicKeyId: z.string().min(1),
  pem: z.string().min(1),
  merchantId: z.string().min(1).optional(),
});
const ipnSchema = z.strictObject({
  url: z.string().url().optional(),
  duplicateRate: z.number().min(0).max(1).optional(),
  reorderRate: z.number().min(0).max(1).optional(),
  delayMs: z.number().int().min(0).optional(),
  lossRate: z.number().min(0).max(1).optional(),
  duplicateCopies: z.number().int().min(1).max(10).optional(),
  reorderHoldMs: z.number().int().min(0).optional(),
  signatureVersion: z.enum(['1', '2']).optional(),
  retryBaseMs: z.number().int().min(1).optional(),
  retryMaxMs: z.number().int().min(1).optional(),
});

/** Introspection and control, unsigned, under /__admin. Never part of the Amazon surface. */
export function createAdminRoutes(deps: AdminDeps): Hono {
  const app = new Hono();
  const invalid = (issues: unknown) => ({ error: 'InvalidAdminRequest', issues });

  app.get('/clock', (c) => c.json({ now: deps.clock.now().toISOString(), deadlines: deps.clock.pending() }));
  app.post('/clock/advance', async (c) => {
    const parsed = advanceSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json(invalid(parsed.error.issues), 400);
    return c.json({ now: deps.clock.advance(parsed.data.ms).toISOString() });
  });
  app.post('/reset', (c) => {
    deps.reset();
    return c.json({ ok: true });
  });
  app.get('/objects', (c) => {
    const base = deps.publicBaseUrl() ?? new URL(c.req.url).origin;
    const { engine } = deps;
    return c.json({
      checkoutSessions: [...engine.sessions.values()].map((s) => ({
        ...checkoutSessionView(engine, s, base),
        merchantId: s.merchantId,
        buyerPaid: s.buyerPaid,
        paymentMethod: s.paymentMethod,
        internalChargePermissionId: s.chargePermissionId,
        internalChargeId: s.chargeId,
      })),
      chargePermissions: [...engine.chargePermissions.values()].map((cp) => ({
        ...chargePermissionView(engine, cp),
        merchantId: cp.merchantId,
        visible: cp.visible,
        paymentMethod: cp.paymentMethod,
        checkoutSessionId: cp.checkoutSessionId,
      })),
      charges: [...engine.charges.values()].map((ch) => ({
        ...chargeView(ch),
        merchantId: ch.merchantId,
        visible: ch.visible,
        checkoutSessionId: ch.checkoutSessionId,
      })),
      refunds: [...engine.refunds.values()].map((r) => ({
        ...refundView(r),
        merchantId: r.merchantId,
        chargePermissionId: r.chargePermissionId,
      })),
    });
  });
  app.get('/requests', (c) => c.json(requestCountsJson(deps.counts)));
  app.get('/money-movements', (c) => {
    const chargePermissionId = c.req.query('chargePermissionId');
    const checkoutSessionId = c.req.query('checkoutSessionId');
    return c.json(
      deps.engine.moneyMovements({
        ...(chargePermissionId ? { chargePermissionId } : {}),
        ...(checkoutSessionId ? { checkoutSessionId } : {}),
      }),
    );
  });
  app.get('/faults', (c) =>
    c.json({
      errorRate: deps.faults.errorRate,
      throttleRate: deps.faults.throttleRate,
      latencyMs: deps.faults.latencyMs,
      hold: deps.faults.hold ?? null,
      throttling: deps.throttle.current(),
    }),
  );
  app.post('/faults', async (c) => {
    const parsed = faultsSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json(invalid(parsed.error.issues), 400);
    const f = parsed.data;
    if (f.errorRate !== undefined) deps.faults.errorRate = f.errorRate;
    if (f.throttleRate !== undefined) deps.faults.throttleRate = f.throttleRate;
    if (f.latencyMs !== undefined) deps.faults.latencyMs = f.latencyMs;
    if (f.throttling !== undefined) deps.throttle.configure(f.throttling as ThrottlingSetting);
    if (f.holdResponses === null) deps.faults.hold = undefined;
    else if (f.holdResponses) {
      deps.faults.hold = {
        operation: f.holdResponses.operation,
        ms: f.holdResponses.ms,
        remaining: f.holdResponses.count ?? 1,
      };
    }
    return c.json({ ok: true });
  });
  app.post('/public-keys', async (c) => {
    const parsed = publicKeySchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json(invalid(parsed.error.issues), 400);
    try {
      deps.registerPublicKey(parsed.data.publicKeyId, parsed.data.pem, parsed.data.merchantId);
    } catch (error) {
      return c.json({ error: 'InvalidPublicKey', message: (error as Error).message }, 400);
    }
    return c.json({ ok: true });
  });
  app.get('/ipn', (c) => c.json(deps.ipnStats() as object));
  app.post('/ipn', async (c) => {
    const parsed = ipnSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json(invalid(parsed.error.issues), 400);
    deps.configureIpn(parsed.data);
    return c.json({ ok: true });
  });
  return app;
}
