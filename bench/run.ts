/**
 * `npm run bench [-- [NAME...] [--size-mb N] [--minutes N] [--rows N]]`: runs every benchmark in bench/ (each top-level
 * `*.ts` file but this one, exporting `bench`), or those whose name contains one of NAME.
 * Benchmarks run one after another: they measure wall time, and two at once would skew both.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { killAllMariadb } from '../test/support/mariadb.js';
import { type Bench, isBench } from './support/bench.js';

const USAGE = `usage: npm run bench -- [NAME...] [--size-mb N] [--minutes N] [--rows N]

  NAME         run only the benchmarks whose name contains NAME (default: all)
  --size-mb N  amount of work in MiB (redo-apply: MiB of redo to generate, default 120;
               runs below 100 MiB are quick runs and do not update docs/benchmarks.md;
               safekeeper: MiB of redo to generate, default 24, below 20 a quick run)
  --minutes N  soak: minutes of sysbench oltp_write_only (default 10; fewer is a quick run, not recorded)
  --rows N     soak: rows of the bulk load (default 2000000; fewer is a quick run, not recorded)
`;

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

class UsageError extends Error {}

function positiveInt(raw: string | undefined, flag: string): number | undefined {
  if (raw !== undefined && !/^[1-9]\d*$/.test(raw)) throw new UsageError(`${flag} takes a positive whole number, got "${raw}"`);
  return raw === undefined ? undefined : Number(raw);
}

function parse(argv: string[]): { filters: string[]; sizeMb: number | undefined; minutes: number | undefined; rows: number | undefined } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'size-mb': { type: 'string' }, minutes: { type: 'string' }, rows: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  return {
    filters: positionals,
    sizeMb: positiveInt(values['size-mb'], '--size-mb'),
    minutes: positiveInt(values.minutes, '--minutes'),
    rows: positiveInt(values.rows, '--rows'),
  };
}

async function loadBenches(): Promise<Bench[]> {
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== basename(fileURLToPath(import.meta.url)))
    .sort();
  const benches: Bench[] = [];
  for (const file of files) {
    const mod: unknown = await import(pathToFileURL(join(BENCH_DIR, file)).href);
    const bench = typeof mod === 'object' && mod !== null ? (mod as Record<string, unknown>)['bench'] : undefined;
    if (!isBench(bench)) throw new Error(`bench/${file} does not export a \`bench\` ({ name, description, run })`);
    benches.push(bench);
  }
  return benches;
}

async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof TypeError)) throw e;
    process.stderr.write(`bench: ${e.message}\n\n${USAGE}`);
    return 64;
  }
  const all = await loadBenches();
  const selected = args.filters.length === 0 ? all : all.filter((b) => args.filters.some((f) => b.name.includes(f)));
  if (selected.length === 0) {
    process.stderr.write(`bench: no benchmark matches ${args.filters.join(', ')} (have: ${all.map((b) => b.name).join(', ')})\n`);
    return 64;
  }
  const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  let failed = 0;
  for (const bench of selected) {
    process.stdout.write(`== ${bench.name}: ${bench.description} ==\n`);
    const t0 = performance.now();
    // test/support/mariadb.ts unrefs its mariadbd children, so awaiting a server's exit alone
    // would let node think it has nothing left to do and quit mid-benchmark.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      await bench.run({ sizeMb: args.sizeMb, minutes: args.minutes, rows: args.rows, command });
    } catch (e) {
      failed++;
      process.stdout.write(`!! ${bench.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      await killAllMariadb();
    } finally {
      clearInterval(keepAlive);
    }
    process.stderr.write(`${bench.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s in all\n`);
  }
  process.stdout.write(`${selected.length - failed} benchmark(s) ran, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
