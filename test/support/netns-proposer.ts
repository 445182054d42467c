/**
 * A proposer (and HTTP probe) that runs inside a network namespace for the
 * partition test: `ip netns exec NS npx tsx test/support/netns-proposer.ts`.
 * Commands arrive as JSON lines on stdin, answers and proposer events leave
 * as JSON lines on stdout (pipes cross namespaces; the test's own namespace
 * has no address on the test network).
 *
 *   {id, cmd: 'token', token}                 (for 'http' before any 'start')
 *   {id, cmd: 'start', proposerId, tenantId, timelineId, endpoints: [{nodeId, baseUrl}], token}
 *   {id, cmd: 'append', count, bytes, seed}    → {chunks: [{lsn, end, seed}], endLsn}
 *   {id, cmd: 'wait', lsn, timeoutMs}          → {committed: boolean, commitLsn}
 *   {id, cmd: 'http', url, method?, json?}     → {status, text} (body base64 when binary: true)
 *   {id, cmd: 'stop'}
 * Events: {event: 'elected' | 'committed' | 'fenced' | 'memberMissing' | ..., ...}
 */
import { createInterface } from 'node:readline';
import { ProposerDriver } from '@strata/client';
import { mtrs } from './mtrs.js';

type Command = { id: number; cmd: string; [k: string]: unknown };

const write = (o: unknown) => process.stdout.write(`${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);

let driver: ProposerDriver | null = null;
/** The bearer token for the safekeepers (they listen on non-loopback addresses, so with auth). */
let token: string | undefined;

async function run(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'start': {
      token = c.token as string | undefined;
      driver = new ProposerDriver({
        token,
        tenantId: c.tenantId as string,
        timelineId: c.timelineId as string,
        proposerId: c.proposerId as number,
        safekeepers: c.endpoints as { nodeId: number; baseUrl: string }[],
        backoffMsMin: 20,
        backoffMsMax: 300,
        reconnectMs: 1000,
        requestTimeoutMs: 2000,
        onEvent: (e) => write({ event: e.kind, ...e }),
      });
      return {};
    }
    case 'append': {
      const d = driver!;
      if (d.status !== 'elected') return { error: `not elected (${d.status})` };
      const chunks: { lsn: bigint; end: bigint; seed: number }[] = [];
      let lsn = d.endLsn;
      for (let i = 0; i < (c.count as number); i++) {
        const seed = (c.seed as number) + i;
        const data = mtrs(c.bytes as number, seed);
        d.append(lsn, data);
        chunks.push({ lsn, end: lsn + BigInt(data.length), seed });
        lsn += BigInt(data.length);
      }
      return { chunks, endLsn: lsn };
    }
    case 'wait': {
      const d = driver!;
      const ok = await d.waitCommitted(BigInt(c.lsn as string), c.timeoutMs as number).then(
        () => true,
        () => false,
      );
      return { committed: ok, commitLsn: d.commitLsn, status: d.status, degraded: d.degradedMembers };
    }
    case 'http': {
      const res = await fetch(c.url as string, {
        method: (c.method as string | undefined) ?? 'GET',
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(c.json !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(c.json !== undefined ? { body: JSON.stringify(c.json) } : {}),
        signal: AbortSignal.timeout(5000),
      });
      const buf = Buffer.from(await res.arrayBuffer());
      return { status: res.status, text: c.binary === true ? buf.toString('base64') : buf.toString('utf8') };
    }
    case 'stats': {
      const d = driver!;
      return { status: d.status, term: d.term, commitLsn: d.commitLsn, endLsn: d.endLsn, peers: d.peerStats(), degraded: d.degradedMembers };
    }
    case 'token':
      token = c.token as string;
      return {};
    case 'stop':
      driver?.stop();
      driver = null;
      return {};
    default:
      return { error: `unknown command ${c.cmd}` };
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line) as Command;
  run(c).then(
    (r) => write({ id: c.id, ...(r as object) }),
    (e: unknown) => write({ id: c.id, error: e instanceof Error ? e.message : String(e) }),
  );
});
rl.on('close', () => {
  driver?.stop();
  process.exit(0);
});
write({ event: 'ready' });
