// Where the CPU went in a benchmark run recorded with Node's --cpu-prof (one .cpuprofile per
// thread: the main thread runs the API, the activities and the simulator, a worker thread the
// workflow code). Self time is bucketed by what owns the code: our folders, the simulator, each
// npm package, Node itself, GC.
//
//   NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npx tsx bench/run.ts --only P1 --no-record
//   npx tsx bench/profile-summary.ts /tmp/prof [top=25]
import { readdir, readFile } from 'node:fs/promises';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const OURS = [
  'api',
  'workflows',
  'activities',
  'amazon-pay',
  'temporal',
  'worker',
  'bench',
  'test',
  'config',
  'scripts',
];

function bucket(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : `(native) ${functionName || 'anonymous'}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[1] ?? url.slice(5)}`;
  const m = /\/(simulator|api|workflows|activities|amazon-pay|temporal|worker|bench|test|config|scripts)\//.exec(url);
  if (m) return OURS.includes(m[1]!) ? `ours: ${m[1]}/` : `${m[1]}/`;
  // Workflow code runs from the bundle, whose URLs are not files.
  if (/workflow-bundle|webpack/.test(url)) return 'workflow bundle (ours + SDK)';
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

/**
 * Who asked for the work: the innermost frame on the sample's stack that belongs to one of these.
 * Approximate: a stack ends at the last await, so work resumed from a promise is often "other".
 */
const OWNERS: Array<[RegExp, string]> = [
  [/\/simulator\//, 'simulator (plays Amazon and the buyer)'],
  [/\/amazon-pay\//, 'ours: Amazon Pay client (signing, HTTP)'],
  [/\/temporal\/codec/, 'ours: payload codec'],
  [/\/activities\//, 'ours: activities'],
  [/\/api\//, 'ours: API'],
  [/\/bench\//, 'bench harness (storefront driver, baselines)'],
  [/@temporalio\/worker/, 'Temporal worker SDK'],
  [/@temporalio\/client|@grpc\/grpc-js/, 'Temporal client SDK / gRPC'],
  [/@temporalio\/core-bridge/, 'Temporal core bridge'],
  [/webpack/, 'workflow bundling (start-up)'],
];

function owner(stack: Node[]): string {
  for (const n of stack) for (const [re, name] of OWNERS) if (re.test(n.callFrame.url)) return name;
  const leaf = stack[0]!.callFrame.functionName;
  return leaf === '(garbage collector)' || leaf === '(program)' ? leaf : 'other (stack lost at an await)';
}

async function main() {
  const dir = process.argv[2];
  const top = Number(process.argv[3] ?? 25);
  if (!dir) throw new Error('usage: npx tsx bench/profile-summary.ts <dir with .cpuprofile files> [top]');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) {
    const p = JSON.parse(await readFile(`${dir}/${file}`, 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const self = new Map<string, number>();
    const owners = new Map<string, number>();
    p.samples.forEach((id, i) => {
      const n = byId.get(id)!;
      const t = (p.timeDeltas[i] ?? 0) / 1000;
      const key = bucket(n.callFrame.url, n.callFrame.functionName);
      self.set(key, (self.get(key) ?? 0) + t);
      if (n.callFrame.functionName === '(idle)') return;
      const stack: Node[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!);
      const o = owner(stack);
      owners.set(o, (owners.get(o) ?? 0) + t);
    });
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    const busy = total - (self.get('(idle)') ?? 0);
    if (busy < 200) continue; // npx / tsx launcher processes
    console.log(`\n${file}: ${(total / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s busy`);
    for (const [k, v] of [...self.entries()]
      .filter(([k]) => k !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)) {
      console.log(`  ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(2).padStart(6)} s  ${k}`);
    }
    console.log('  by who asked for it (innermost owner on the stack):');
    for (const [k, v] of [...owners.entries()].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(2).padStart(6)} s  ${k}`);
    }
  }
}

await main();
