// Starts one real Temporal dev server for the whole integration run (or attaches to
// TEMPORAL_ADDRESS), provisions the time-skipping test server, and tears everything down.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { ensureTemporalCli, ensureTimeSkippingServer } from '../../scripts/provision';
import { startDevServer, type DevServer } from '../../scripts/dev-server';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    timeSkippingServerPath: string;
  }
}

let server: DevServer | undefined;

export async function setup(project: TestProject) {
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    const cliPath = await ensureTemporalCli();
    server = await startDevServer({ cliPath, headless: true, namespace, logLevel: 'error' });
    address = server.address;
  }
  project.provide('temporalAddress', address);
  project.provide('temporalNamespace', namespace);
  project.provide('timeSkippingServerPath', await ensureTimeSkippingServer());
}

export async function teardown() {
  await server?.stop();
}
