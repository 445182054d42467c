/**
 * `compute list`'s endpoint lines and `up`'s endpoint lines: one per branch,
 * parseable (`endpoint NAME port P PHASE clients N idle-stop S`), whatever
 * the proxy reports or when it does not run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { branchEndpointLines, type EndpointReport, type EndpointsStatus, endpointListLines, ensureEndpoints, setIdleSeconds } from './endpoints.js';
import { type ClusterState, readCluster } from './state.js';

const tl = (c: string) => c.repeat(32);
const state = {
  version: 1,
  tenantId: tl('a'),
  s3: false,
  s3Server: null,
  remoteStorage: 'file:///x',
  safekeepers: [{ id: 1, port: 1001, url: 'http://127.0.0.1:1001' }],
  pageserver: { port: 1002, url: 'http://127.0.0.1:1002' },
  computePorts: {},
  auth: { publicKeyFile: 'p', privateKeyFile: 'k', adminTokenFile: 't' },
  db: { user: 'root', password: 'pw' },
  branches: [
    { name: 'main', timelineId: tl('b'), parent: null, lsn: null, createdAt: '' },
    { name: 'dev', timelineId: tl('c'), parent: 'main', lsn: '42', createdAt: '' },
    { name: 'new', timelineId: tl('d'), parent: 'main', lsn: '43', createdAt: '' },
  ],
  consolePort: null,
  endpoints: { main: { port: 2001, idleSeconds: 300 }, dev: { port: 2002, idleSeconds: 0 } },
} satisfies ClusterState;

const report = (r: Partial<EndpointReport> & Pick<EndpointReport, 'branch' | 'port'>): EndpointReport => ({
  listening: true,
  listenError: null,
  phase: 'stopped',
  piped: 0,
  waiting: 0,
  idleSeconds: 300,
  idleSinceUnixMs: null,
  owned: false,
  lastError: null,
  lastWakeMs: null,
  wakes: 0,
  ...r,
});

describe('endpoint lines', () => {
  it('up: one mysql:// address per branch that has an endpoint', () => {
    expect(branchEndpointLines(state)).toEqual(['endpoint main mysql://root:pw@127.0.0.1:2001/', 'endpoint dev mysql://root:pw@127.0.0.1:2002/']);
  });

  it('compute list: phase, clients and idle setting from the proxy; notes in parentheses at the end', () => {
    const status: EndpointsStatus = {
      pid: 1,
      updatedUnixMs: 0,
      endpoints: [
        report({ branch: 'main', port: 2001, phase: 'idle', idleSinceUnixMs: 10_000, owned: false }),
        report({ branch: 'dev', port: 2002, phase: 'active', piped: 2, idleSeconds: 0, owned: true, lastWakeMs: 812 }),
      ],
    };
    expect(endpointListLines(state, status, 25_000)).toEqual([
      'endpoint main port 2001 idle clients 0 idle-stop 300s (idle for 15s; kept: started by name, not stopped when idle)',
      'endpoint dev port 2002 active clients 2 idle-stop never (last wake 812 ms)',
    ]);
  });

  it('compute list: a failed start says why; no proxy running says so and how to start it', () => {
    const status: EndpointsStatus = { pid: 1, updatedUnixMs: 0, endpoints: [report({ branch: 'dev', port: 2002, lastError: 'page server down' })] };
    expect(endpointListLines(state, status, 0)).toEqual([
      'endpoint main port 2001 stopped clients 0 idle-stop 300s (not served yet)',
      'endpoint dev port 2002 stopped clients 0 idle-stop 300s (last start failed: page server down)',
    ]);
    const busy: EndpointsStatus = { pid: 1, updatedUnixMs: 0, endpoints: [report({ branch: 'main', port: 2001, listening: false, listenError: 'listen EADDRINUSE: address already in use 127.0.0.1:2001' })] };
    expect(endpointListLines(state, busy, 0)[0]).toBe('endpoint main port 2001 stopped clients 0 idle-stop 300s (not listening: listen EADDRINUSE: address already in use 127.0.0.1:2001)');
    expect(endpointListLines(state, undefined, 0)[0]).toBe('endpoint main port 2001 down clients 0 idle-stop 300s (the endpoint proxy is not running: ./strata up starts it)');
  });
});

describe('the registry\'s endpoints', () => {
  it('every branch gets its own free port and the default idle setting; a setting changes one branch; other writers\' fields survive', async () => {
    const home = mkdtempSync(join(tmpdir(), 'strata-endpoints-'));
    try {
      // A registry as another writer (the console) left it: an endpoint without idleSeconds, a field the CLI does not know.
      writeFileSync(join(home, 'cluster.json'), JSON.stringify({ ...state, endpoints: { main: { port: 2001 } }, consoleOnly: 'kept' }));
      expect(readCluster(home)!.endpoints['main']).toEqual({ port: 2001, idleSeconds: 300 });
      const after = await ensureEndpoints(home);
      const ports = Object.values(after.endpoints).map((e) => e.port);
      expect(Object.keys(after.endpoints).sort()).toEqual(['dev', 'main', 'new']);
      expect(new Set([...ports, 1001, 1002]).size).toBe(5);
      expect(after.endpoints['new']!.idleSeconds).toBe(300);
      await setIdleSeconds('dev', 0, home);
      expect(readCluster(home)!.endpoints['dev']).toMatchObject({ idleSeconds: 0, port: after.endpoints['dev']!.port });
      expect(readCluster(home)!.endpoints['main']!.port).toBe(2001);
      expect(JSON.parse(readFileSync(join(home, 'cluster.json'), 'utf8')).consoleOnly).toBe('kept');
      await expect(setIdleSeconds('nope', 5, home)).rejects.toThrow(/no branch named "nope"/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
