import type { OperationName } from './model';

export interface Quota {
  maxQuota: number;
  restorePerSecond: number;
}

export type ThrottlingSetting = 'sandbox' | 'live' | 'off' | Partial<Record<OperationName, Quota>>;

/** Amazon's published quotas (§9, current US table). */
export const LIVE_QUOTAS: Record<OperationName, Quota> = {
  createCheckoutSession: { maxQuota: 40, restorePerSecond: 16 },
  getCheckoutSession: { maxQuota: 40, restorePerSecond: 8 },
  updateCheckoutSession: { maxQuota: 20, restorePerSecond: 8 },
  completeCheckoutSession: { maxQuota: 20, restorePerSecond: 4 },
  getChargePermission: { maxQuota: 20, restorePerSecond: 4 },
  updateChargePermission: { maxQuota: 10, restorePerSecond: 2 },
  closeChargePermission: { maxQuota: 10, restorePerSecond: 2 },
  createCharge: { maxQuota: 10, restorePerSecond: 4 },
  getCharge: { maxQuota: 20, restorePerSecond: 4 },
  captureCharge: { maxQuota: 20, restorePerSecond: 4 },
  cancelCharge: { maxQuota: 10, restorePerSecond: 2 },
  createRefund: { maxQuota: 10, restorePerSecond: 4 },
  getRefund: { maxQuota: 20, restorePerSecond: 4 },
};

export const SANDBOX_QUOTAS: Record<OperationName, Quota> = {
  createCheckoutSession: { maxQuota: 5, restorePerSecond: 1 },
  getCheckoutSession: { maxQuota: 10, restorePerSecond: 1 },
  updateCheckoutSession: { maxQuota: 5, restorePerSecond: 1 },
  completeCheckoutSession: { maxQuota: 2, restorePerSecond: 1 },
  getChargePermission: { maxQuota: 10, restorePerSecond: 1 },
  updateChargePermission: { maxQuota: 5, restorePerSecond: 1 },
  closeChargePermission: { maxQuota: 2, restorePerSecond: 1 },
  createCharge: { maxQuota: 2, restorePerSecond: 1 },
  getCharge: { maxQuota: 5, restorePerSecond: 1 },
  captureCharge: { maxQuota: 2, restorePerSecond: 1 },
  cancelCharge: { maxQuota: 2, restorePerSecond: 1 },
  createRefund: { maxQuota: 2, restorePerSecond: 1 },
  getRefund: { maxQuota: 5, restorePerSecond: 1 },
};

/** Token buckets per merchant and operation, on wall time (throttling is about real request rates). */
export class Throttle {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private setting: ThrottlingSetting,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  configure(setting: ThrottlingSetting): void {
    this.setting = setting;
    this.buckets.clear();
  }

  current(): ThrottlingSetting {
    return this.setting;
  }

  private quota(operation: OperationName): Quota | undefined {
    if (this.setting === 'off') return undefined;
    if (this.setting === 'sandbox') return SANDBOX_QUOTAS[operation];
    if (this.setting === 'live') return LIVE_QUOTAS[operation];
    return this.setting[operation];
  }

  /** Takes one token; false means answer 429. */
  take(scope: string, operation: OperationName): boolean {
    const quota = this.quota(operation);
    if (!quota) return true;
    const key = `${scope}\n${operation}`;
    const now = this.nowMs();
    const bucket = this.buckets.get(key) ?? { tokens: quota.maxQuota, at: now };
    bucket.tokens = Math.min(quota.maxQuota, bucket.tokens + ((now - bucket.at) / 1000) * quota.restorePerSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
