// Every repository path the docs name exists, so the runbook and the walk-through cannot rot
// silently when a file moves. A path is a backticked or bare token that starts with one of the
// repository's top-level folders and names a file (it has an extension).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const docsDir = fileURLToPath(new URL('.', import.meta.url));
const TOP = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules')
  .map((d) => d.name);
const PATH = new RegExp(`(?<![\\w./-])(?:${TOP.join('|')})/[\\w./-]*\\w\\.[a-z]+\\b`, 'g');

export const pathsIn = (text: string): string[] => [...new Set(text.match(PATH) ?? [])];

const docs = readdirSync(docsDir).filter((f) => f.endsWith('.md'));

describe('docs', () => {
  it('finds paths the way a reader sees them (the check is not vacuous)', () => {
    expect(pathsIn('see `workflows/checkout/owner.ts`, api/app.ts and https://x.example/api/no.ts')).toEqual([
      'workflows/checkout/owner.ts',
      'api/app.ts',
    ]);
    expect(docs).toEqual(expect.arrayContaining(['runbook.md', 'walkthrough.md']));
  });

  it.each(docs)('every repository file %s names exists', (doc) => {
    const paths = pathsIn(readFileSync(`${docsDir}${doc}`, 'utf8'));
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.filter((p) => !existsSync(`${root}${p}`))).toEqual([]);
  });

  it('README links both docs', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    expect(readme).toContain('(docs/runbook.md)');
    expect(readme).toContain('(docs/walkthrough.md)');
  });
});
