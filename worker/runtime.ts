import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { temporalLevel, temporalLogger, type Logger, type LogLevel } from '../observability/logger';

export interface WorkerRuntimeOptions {
  logger: Logger;
  /** Signals on which the Runtime shuts workers down itself; [] when the process orders its own shutdown. */
  shutdownSignals?: NodeJS.Signals[];
  /** Core's (native) level when it should differ from the logger's: its debug is several lines per workflow task. */
  coreLevel?: LogLevel;
  /**
   * host:port of the SDK's Prometheus exporter (GET /metrics): the SDK's worker metrics and ours
   * (observability/metrics.ts, through Runtime.metricMeter). Off when unset.
   */
  metricsBindAddress?: string;
}

/**
 * Installs the process-wide Temporal Runtime with our logger. Must run before the first
 * NativeConnection or Worker: Runtime.instance() would otherwise install the SDK's default
 * (DefaultLogger to stderr) and this could no longer be changed.
 *
 * Every line goes to pino: the SDK's own (sdkComponent worker), workflow code's `log` (the
 * workflow logger sink forwards to the Runtime logger in SDK 1.24), activities' Context.log, and
 * Core's native lines (`forward`), filtered at the same level.
 */
export function installWorkerRuntime(options: WorkerRuntimeOptions): Runtime {
  const level = temporalLevel(options.coreLevel ?? options.logger.level);
  return Runtime.install({
    logger: temporalLogger(options.logger),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level, other: 'ERROR' }), forward: {} },
      // SDK metric names as Temporal's published dashboards expect them (no _total / unit suffixes).
      ...(options.metricsBindAddress ? { metrics: { prometheus: { bindAddress: options.metricsBindAddress } } } : {}),
    },
    ...(options.shutdownSignals ? { shutdownSignals: options.shutdownSignals } : {}),
  });
}
