/**
 * The workflow bundle built ahead of time (`npm run build:workflows`, the Docker image), so a
 * worker starts without webpack and every replica of a release runs the same code. Next to the
 * code, a manifest says which SDK built it and from which workflow sources: a bundle built by
 * another @temporalio/workflow than the worker's is refused (the bundle carries the SDK's workflow
 * runtime, which must match the worker's), and one older than the workflow sources next to it is
 * reported, since it does not run what the repository says.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@temporalio/common';
import { z } from 'zod';
import { ConfigError } from '../config';
import { bundleWorkflows } from './worker';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** What the bundle is compiled from (workflow code only imports these; activities as types). */
const SOURCES = ['workflows', 'temporal/request-id-header.ts'];
export const BUNDLE_FILE = 'workflow-bundle.js';
export const MANIFEST_FILE = 'workflow-bundle.json';

const manifestSchema = z.object({
  sdkVersion: z.string(),
  sourceHash: z.string(),
  builtAt: z.string(),
});
export type BundleManifest = z.infer<typeof manifestSchema>;

export function workflowSdkVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('@temporalio/workflow/package.json') as { version: string }).version;
}

function sourceFiles(path: string): string[] {
  const full = join(repoRoot, path);
  if (!existsSync(full)) return [];
  if (!full.endsWith('.ts')) {
    return readdirSync(full, { withFileTypes: true })
      .flatMap((e) => sourceFiles(join(path, e.name)))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  }
  return [path];
}

/** A hash of the workflow sources; undefined where they are not deployed next to the bundle. */
export function workflowSourceHash(): string | undefined {
  const files = SOURCES.flatMap(sourceFiles).sort();
  if (files.length === 0) return undefined;
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(repoRoot, file)));
  return hash.digest('hex');
}

/** Bundles the workflows into `outDir` (workflow-bundle.js and its manifest); returns the code path. */
export async function buildWorkflowBundle(outDir: string, logger?: Logger): Promise<string> {
  const { code } = await bundleWorkflows(logger);
  mkdirSync(outDir, { recursive: true });
  const codePath = join(outDir, BUNDLE_FILE);
  writeFileSync(codePath, code);
  const manifest: BundleManifest = {
    sdkVersion: workflowSdkVersion(),
    sourceHash: workflowSourceHash() ?? '',
    builtAt: new Date().toISOString(),
  };
  writeFileSync(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return codePath;
}

export interface PrebuiltBundle {
  codePath: string;
  manifest: BundleManifest;
  /** The workflow sources next to the worker differ from the ones the bundle was built from. */
  stale: boolean;
}

/** Checks WORKFLOW_BUNDLE_PATH's bundle and manifest; a ConfigError names what is wrong and the fix. */
export function loadPrebuiltBundle(codePath: string): PrebuiltBundle {
  const rebuild = 'rebuild it with `npm run build:workflows`';
  if (!existsSync(codePath)) throw new ConfigError([`WORKFLOW_BUNDLE_PATH: ${codePath} does not exist (${rebuild})`]);
  const manifestPath = join(dirname(codePath), MANIFEST_FILE);
  let manifest: BundleManifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(readFileSync(manifestPath, 'utf8')));
  } catch {
    throw new ConfigError([`WORKFLOW_BUNDLE_PATH: ${manifestPath} is missing or not a bundle manifest (${rebuild})`]);
  }
  const sdkVersion = workflowSdkVersion();
  if (manifest.sdkVersion !== sdkVersion) {
    throw new ConfigError([
      `WORKFLOW_BUNDLE_PATH: built with @temporalio/workflow ${manifest.sdkVersion}, this worker has ${sdkVersion} (${rebuild})`,
    ]);
  }
  const sources = workflowSourceHash();
  return { codePath, manifest, stale: sources !== undefined && sources !== manifest.sourceHash };
}
