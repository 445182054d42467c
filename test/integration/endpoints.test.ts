/**
 * Branch endpoints, scale to zero (issue 13), as a user drives them: `./strata
 * up` prints a stable address per branch; a connection to the endpoint of a
 * branch with no compute starts one and gets its data; after the branch's
 * idle timeout (seconds here, minutes by default) the compute is stopped; the
 * next connection wakes it with the data intact, and so does one that
 * arrives while the compute is stopping. A client straight to the compute's
 * own port keeps it running; a proxy killed and restarted by `up` keeps the
 * compute it woke under the idle stop.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../support/until.js';
import { computeLine, fingerprint, innodbLsn, type LocalCli, localClusterPerFile, scalar, withUrl } from '../support/local-cluster.js';

let home: string;
let cli: LocalCli;
const seen = { mainUrl: '', fp: '', user: '', password: '', devPort: 0 };

/** The idle timeout the test gives its branch: short enough to wait out, long enough to see `active` first. */
const IDLE_SECONDS = 3;

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code, `strata ${args.join(' ')}\n${r.stderr}\n${r.stdout}`).toBe(0);
  return r.stdout;
}

/** `compute list`'s line for a branch's endpoint: `endpoint NAME port P PHASE clients N idle-stop ...`. */
async function endpointLine(branch: string): Promise<{ port: number; phase: string; clients: number; line: string }> {
  const out = await ok(['compute', 'list']);
  const m = new RegExp(`^endpoint ${branch} port (\\d+) (\\S+) clients (\\d+) idle-stop .*$`, 'm').exec(out);
  if (!m) throw new Error(`no endpoint line for ${branch} in:\n${out}`);
  return { port: Number(m[1]), phase: m[2]!, clients: Number(m[3]), line: m[0] };
}

/** The proxy's own report (what `compute list` reads), polled faster than a CLI run allows. */
function reportedPhase(branch: string): string | undefined {
  const file = join(home, 'run', 'endpoints.json');
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { endpoints: { branch: string; phase: string }[] };
    return r.endpoints.find((e) => e.branch === branch)?.phase;
  } catch {
    return undefined;
  }
}

function computeRunning(name: string): boolean {
  const file = join(home, 'computes', name, 'compute.json');
  if (!existsSync(file)) return false;
  const { controllerPid } = JSON.parse(readFileSync(file, 'utf8')) as { controllerPid: number };
  try {
    process.kill(controllerPid, 0);
    return !readFileSync(`/proc/${controllerPid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

const endpointUrl = (port: number) => `mysql://${seen.user}:${seen.password}@127.0.0.1:${port}/`;

localClusterPerFile('strata-endpoints-', (h, c) => {
  home = h;
  cli = c;
});

describe('branch endpoints (scale to zero, real processes)', () => {
  it('[UP] prints a stable endpoint per branch beside the existing lines; main\'s endpoint pipes to the compute up started', async () => {
    const out = await ok(['up', '--no-console']);
    const main = computeLine(out, 'main');
    Object.assign(seen, { mainUrl: main.url, user: main.user, password: main.password });
    expect(out).toMatch(/^pageserver http:\/\/127\.0\.0\.1:\d+$/m);
    const ep = /^endpoint main (mysql:\/\/\w+:\w*@127\.0\.0\.1:(\d+)\/)$/m.exec(out);
    expect(ep, out).not.toBeNull();
    expect(Number(ep![2])).not.toBe(main.port);
    await withUrl(main.url, async (c) => {
      await c.query('CREATE DATABASE app');
      await c.query('USE app'); // seq_1_to_N needs a selected database
      await c.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB');
      await c.query("INSERT INTO app.t SELECT seq, CONCAT('row', seq) FROM seq_1_to_500");
      seen.fp = await fingerprint(c, 'app.t');
      const lsn = await innodbLsn(c);
      await ok(['wait-lsn', '--branch', 'main', '--lsn', lsn.toString(), '--timeout-ms', '120000']);
      await ok(['branch', 'create', '--from', 'main', '--name', 'dev', '--lsn', lsn.toString()]);
    });
    // Through the endpoint: the same server (a compute started by name is piped to, and kept).
    await withUrl(ep![1]!, async (c) => expect(await fingerprint(c, 'app.t')).toBe(seen.fp));
    await until('main\'s endpoint to be idle again', async () => (await endpointLine('main')).phase === 'idle', 10_000);
    expect((await endpointLine('main')).line).toMatch(/kept: started by name/);
  });

  it('[WAKE] a connection to the endpoint of a branch with no compute starts one and gets the branch\'s data', async () => {
    expect(await ok(['branch', 'set', '--branch', 'dev', '--idle-seconds', String(IDLE_SECONDS)])).toMatch(new RegExp(`^branch dev idle-stop ${IDLE_SECONDS}s$`, 'm'));
    await until('the proxy to serve dev', async () => reportedPhase('dev') === 'stopped', 10_000);
    const before = await endpointLine('dev');
    expect(before.phase).toBe('stopped');
    expect(computeRunning('dev')).toBe(false);
    seen.devPort = before.port;

    const t0 = performance.now();
    await withUrl(endpointUrl(seen.devPort), async (c) => {
      expect(await scalar(c, 'SELECT 1')).toBe('1');
      process.stdout.write(`[WAKE] connect to a stopped endpoint → SELECT 1 answered: ${Math.round(performance.now() - t0)} ms\n`);
      expect(await fingerprint(c, 'app.t')).toBe(seen.fp);
      await c.query("INSERT INTO app.t VALUES (9001, 'written through the endpoint')");
      seen.fp = await fingerprint(c, 'app.t');
      const line = await endpointLine('dev');
      expect(line).toMatchObject({ phase: 'active', clients: 1 });
      expect(computeRunning('dev')).toBe(true);
      expect(await ok(['compute', 'list'])).toMatch(/^compute dev branch dev .* port \d+ pid \d+ .* lag \S+/m);
    });
    expect(seen.fp).toMatch(/^501 rows/);
  });

  it('[IDLE] a client straight to the compute\'s own port keeps it; past the idle timeout without connections it is stopped cleanly', async () => {
    await until('dev to be idle', async () => (await endpointLine('dev')).phase === 'idle', 10_000);
    // The compute's own URL (compute list prints it): a client there never passes the endpoint, and must not be cut off.
    const { connectionUrl } = JSON.parse(readFileSync(join(home, 'computes', 'dev', 'compute.json'), 'utf8')) as { connectionUrl: string };
    await withUrl(connectionUrl, async (c) => {
      await new Promise((r) => setTimeout(r, (IDLE_SECONDS + 2) * 1000));
      expect(await scalar(c, 'SELECT COUNT(*) FROM app.t')).toBe('501');
      expect(computeRunning('dev')).toBe(true);
    });
    expect(readFileSync(join(home, 'logs', 'endpoints.log'), 'utf8')).toMatch(/endpoint dev: idle here, but compute dev has 1 client\(s\) on its own port/);
    const t0 = performance.now();
    await until('dev\'s compute to be stopped', async () => (await endpointLine('dev')).phase === 'stopped' && !computeRunning('dev'), IDLE_SECONDS * 1000 + 30_000);
    // The clock started again when the direct client's presence cancelled the stop, or later.
    expect(performance.now() - t0).toBeGreaterThan(0);
    expect(await ok(['compute', 'list'])).not.toMatch(/^compute dev /m);
    const log = readFileSync(join(home, 'logs', 'endpoints.log'), 'utf8');
    expect(log).toMatch(/endpoint dev: compute stopped in \d+ ms/);
    // main's compute was started by name: never stopped by its endpoint.
    expect(computeRunning('main')).toBe(true);
  });

  it('[WAKE AGAIN] the next connections wake it with the data intact: eight at once, one start', async () => {
    const starts = () => (readFileSync(join(home, 'logs', 'endpoints.log'), 'utf8').match(/endpoint dev: a client is waiting; starting the compute/g) ?? []).length;
    const before = starts();
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withUrl(endpointUrl(seen.devPort), async (c) => {
          expect(await fingerprint(c, 'app.t')).toBe(seen.fp);
          expect(await scalar(c, 'SELECT v FROM app.t WHERE id = 9001')).toBe('written through the endpoint');
        }),
      ),
    );
    expect(starts()).toBe(before + 1);
    expect(computeRunning('dev')).toBe(true);
  });

  it('[PROXY RESTART] kill -9 of the proxy, then up: the new proxy finds the compute its predecessor woke and keeps it under the idle stop', async () => {
    // Long enough that the compute is still idle (not yet stopped) when the new proxy is looked at.
    await ok(['branch', 'set', '--branch', 'dev', '--idle-seconds', '60']);
    const pid = Number(readFileSync(join(home, 'run', 'endpoints.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await until('the proxy to be gone', async () => {
      try {
        process.kill(pid, 0);
        return readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
      } catch {
        return true;
      }
    }, 10_000);
    const out = await ok(['up', '--no-console']);
    expect(out).toMatch(new RegExp(`^endpoint dev mysql://\\w+:\\w*@127\\.0\\.0\\.1:${seen.devPort}/$`, 'm'));
    expect(computeRunning('dev')).toBe(true);
    const line = await endpointLine('dev');
    expect(line.phase).toBe('idle');
    expect(line.line).toMatch(/idle-stop 60s/);
    expect(line.line).not.toMatch(/kept: started by name/);
    // Back to the short setting: the clock has run since the restart, so the stop follows within seconds (next test).
    await ok(['branch', 'set', '--branch', 'dev', '--idle-seconds', String(IDLE_SECONDS)]);
  });

  it('[STOPPING] a connection that arrives while the compute stops waits and gets a fresh compute', async () => {
    // The stop takes about a second (shutdown, final ship): a 5 ms poll of the proxy's report lands inside it.
    const deadline = Date.now() + IDLE_SECONDS * 1000 + 30_000;
    while (reportedPhase('dev') !== 'stopping' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(reportedPhase('dev')).toBe('stopping');
    await withUrl(endpointUrl(seen.devPort), async (c) => {
      expect(await fingerprint(c, 'app.t')).toBe(seen.fp);
      expect((await endpointLine('dev')).phase).toBe('active');
    });
    expect(computeRunning('dev')).toBe(true);
  });

  it('[DOWN] down stops the endpoint proxy, then the computes', async () => {
    const out = await ok(['down']);
    expect(out).toMatch(/^stopped endpoints$/m);
    expect(computeRunning('dev')).toBe(false);
    expect(computeRunning('main')).toBe(false);
  });
});
