import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureTemporalCli, ensureTimeSkippingServer, ProvisioningError } from './provision';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function fakeExecutable(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
  return path;
}

describe('ensureTemporalCli', () => {
  it('uses TEMPORAL_CLI_PATH first and says so when it is not executable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    process.env.TEMPORAL_CLI_PATH = join(dir, 'missing');
    await expect(ensureTemporalCli(() => undefined)).rejects.toThrow(ProvisioningError);
    await expect(ensureTemporalCli(() => undefined)).rejects.toThrow(
      /TEMPORAL_CLI_PATH=.*missing is not an executable/,
    );
    process.env.TEMPORAL_CLI_PATH = fakeExecutable(dir, 'temporal-explicit');
    expect(await ensureTemporalCli(() => undefined)).toBe(process.env.TEMPORAL_CLI_PATH);
  });

  it('prefers `temporal` on PATH over the cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'path-'));
    const onPath = fakeExecutable(dir, 'temporal');
    delete process.env.TEMPORAL_CLI_PATH;
    process.env.PATH = `${dir}:${saved.PATH}`;
    expect(await ensureTemporalCli(() => undefined)).toBe(onPath);
  });

  it('explains what is missing when nothing can provide a CLI', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'empty-'));
    delete process.env.TEMPORAL_CLI_PATH;
    process.env.PATH = empty; // no temporal, no go
    process.env.AMAZON_PAY_TEMPORAL_CACHE = mkdtempSync(join(tmpdir(), 'cache-'));
    const error = await ensureTemporalCli(() => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisioningError);
    const message = (error as Error).message;
    expect(message).toMatch(/no `go` on PATH/);
    expect(message).toMatch(/TEMPORAL_ADDRESS/);
    expect(message).toMatch(/go install github.com\/temporalio\/cli\/cmd\/temporal@v1.5.1/);
  });
});

describe('ensureTimeSkippingServer', () => {
  it('names java and maven when they are missing', async () => {
    delete process.env.TEMPORAL_TEST_SERVER_PATH;
    process.env.PATH = mkdtempSync(join(tmpdir(), 'empty-'));
    process.env.AMAZON_PAY_TEMPORAL_CACHE = mkdtempSync(join(tmpdir(), 'cache-'));
    await expect(ensureTimeSkippingServer(() => undefined)).rejects.toThrow(/java: missing\s+mvn: missing/);
  });
});
