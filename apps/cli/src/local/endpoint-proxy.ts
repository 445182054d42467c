/**
 * The branch endpoints' proxy (`strata endpoints run`, a daemon of `up`):
 * one TCP listener per branch on the port cluster.json names. The first
 * connection to a branch without a compute starts one the way `strata
 * compute start --branch X` does (startLocalCompute), holds the client
 * until it takes connections, then pipes bytes both ways; a compute the
 * endpoint started is stopped cleanly once nobody used it for the branch's
 * idle setting. The decisions are core's endpoint state machine
 * (@strata/core/endpoint); this file is the I/O around it: sockets, the
 * compute processes, timers, the registry and the report.
 *
 * MariaDB's protocol has the server speak first (its handshake), so a
 * client held here simply waits for bytes: nothing needs to be faked.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { type EndpointEffect, type EndpointInput, type EndpointState, newEndpoint, nextDeadlineMs, stepEndpoint } from '@strata/core/endpoint';
import { type ComputeStateFile } from '@strata/compute';
import { computesDir, daemonName, runningComputes, startLocalCompute, stopCompute } from './computes.js';
import { daemonPid } from './daemon.js';
import { COMPUTE_STOP_GRACE_MS } from './down.js';
import { type EndpointReport, ensureEndpoints, writeEndpointsStatus } from './endpoints.js';
import { type ClusterState, readCluster, strataHome } from './state.js';
import { clientsOfPort } from './tcp-connections.js';

/** How often the registry (new branches, settings) and the computes (started or stopped by name, crashed) are looked at. */
const RECONCILE_MS = 500;
/** A start the endpoint asked for: as long as `compute start` allows, so a slow first start is not cut short. */
const WAKE_TIMEOUT_MS = 300_000;

/** Unix ms from the monotonic clock: wall-clock jumps do not move idle deadlines. */
const nowMs = (): number => Math.round(performance.timeOrigin + performance.now());

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Which compute of a branch the endpoint started: its controller's pid, in the compute's own directory. A
 * proxy that restarts (a crash, a kill) reads it, so a compute it woke stays under the idle stop instead
 * of being taken for one started by name. A pid from an earlier compute matches no running controller.
 */
function ownerMarkFile(home: string, branch: string): string {
  return join(computesDir(home), branch, 'endpoint-owner.pid');
}

function markOwned(home: string, branch: string, controllerPid: number): void {
  try {
    writeFileSync(ownerMarkFile(home, branch), `${controllerPid}\n`);
  } catch {
    // Without the mark only a proxy restart loses track: the compute then counts as started by name.
  }
}

function ownerMark(home: string, branch: string): number | undefined {
  try {
    const pid = Number(readFileSync(ownerMarkFile(home, branch), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface ProxyContext {
  readonly home: string;
  readonly log: (line: string) => void;
  /** Something an endpoint reports changed: the report file is rewritten. */
  readonly changed: () => void;
}

class BranchEndpoint {
  private state: EndpointState;
  private readonly server: net.Server;
  private listening = false;
  /** listen() called and not yet answered: a second call before the answer would throw. */
  private listenPending = false;
  /** Why the last listen failed (a port someone else holds); null while listening. */
  private listenError: string | null = null;
  private readonly held = new Set<net.Socket>();
  private readonly piped = new Set<net.Socket>();
  private timer: NodeJS.Timeout | undefined;
  /** The compute's MariaDB port, known once one runs (started here or by name). */
  private computePort: number | undefined;
  /** Start or stop in flight: awaited on shutdown so `down` finds every compute that will run. */
  private operation: Promise<void> | undefined;
  private wakeStartedMs: number | null = null;
  private lastWakeMs: number | null = null;
  private wakes = 0;
  private closed = false;

  constructor(
    readonly branch: string,
    readonly port: number,
    idleSeconds: number,
    private readonly ctx: ProxyContext,
  ) {
    this.state = newEndpoint({ idleTimeoutMs: idleSeconds * 1000 });
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.on('error', (e) => {
      // EADDRINUSE and friends: reported (compute list shows "not listening"); the next reconcile tries again.
      if (this.listenError !== messageOf(e)) this.ctx.log(`endpoint ${branch}: cannot listen on 127.0.0.1:${port}: ${messageOf(e)}`);
      this.listening = false;
      this.listenPending = false;
      this.listenError = messageOf(e);
      this.ctx.changed();
    });
  }

  listen(): void {
    if (this.listening || this.listenPending || this.closed) return;
    this.listenPending = true;
    this.server.listen({ host: '127.0.0.1', port: this.port }, () => {
      this.listening = true;
      this.listenPending = false;
      this.listenError = null;
      this.ctx.log(`endpoint ${this.branch} listening on 127.0.0.1:${this.port}`);
      this.ctx.changed();
    });
  }

  report(): EndpointReport {
    const s = this.state;
    return {
      branch: this.branch,
      port: this.port,
      listening: this.listening,
      listenError: this.listenError,
      phase: s.phase,
      piped: s.piped,
      waiting: s.waiting,
      idleSeconds: s.idleTimeoutMs / 1000,
      idleSinceUnixMs: s.idleSinceMs,
      owned: s.owned,
      lastError: s.lastError,
      lastWakeMs: this.lastWakeMs,
      wakes: this.wakes,
    };
  }

  configure(idleSeconds: number): void {
    if (idleSeconds * 1000 !== this.state.idleTimeoutMs) this.step({ type: 'configure', nowMs: nowMs(), idleTimeoutMs: idleSeconds * 1000 });
  }

  /** What a look at the computes found: the branch's read-write compute, if one runs. */
  observe(running: ComputeStateFile | undefined): void {
    if (running) this.computePort = running.port;
    const startedByEndpoint = running !== undefined && ownerMark(this.ctx.home, this.branch) === running.controllerPid;
    this.step({ type: 'observed', nowMs: nowMs(), running: running !== undefined, startedByEndpoint });
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    // A client reset before it is piped is only a departure; without a listener it would be an uncaught error.
    socket.on('error', () => undefined);
    this.step({ type: 'connect', nowMs: nowMs() }, socket);
  }

  /** Feeds the state machine and performs what it asks; `socket` is the client a `connect` is about. */
  private step(input: EndpointInput, socket?: net.Socket): void {
    const before = this.state;
    const r = stepEndpoint(this.state, input);
    this.state = r.state;
    for (const e of r.effects) this.perform(e, socket);
    this.armTimer();
    if (r.state !== before) this.ctx.changed();
  }

  private perform(e: EndpointEffect, socket: net.Socket | undefined): void {
    switch (e.kind) {
      case 'pipe':
        this.pipe(socket!);
        return;
      case 'hold':
        this.hold(socket!);
        return;
      case 'refuse':
        this.ctx.log(`endpoint ${this.branch}: refused a client: ${e.reason}`);
        socket!.destroy();
        return;
      case 'releaseWaiters':
        for (const s of [...this.held]) {
          this.held.delete(s);
          this.pipe(s);
        }
        return;
      case 'failWaiters':
        for (const s of [...this.held]) {
          this.held.delete(s);
          s.destroy();
        }
        return;
      // Run after this step has finished: their reports are steps of their own, never nested in this one.
      case 'startCompute':
        this.operation = Promise.resolve().then(() => this.wake());
        return;
      case 'stopCompute':
        this.operation = Promise.resolve().then(() => this.sleep());
        return;
    }
  }

  private hold(socket: net.Socket): void {
    this.held.add(socket);
    socket.once('close', () => {
      // Still held: it gave up waiting (released ones were taken out of `held` first).
      if (this.held.delete(socket)) this.step({ type: 'disconnect', nowMs: nowMs(), waited: true });
    });
  }

  private pipe(client: net.Socket): void {
    this.piped.add(client);
    const port = this.computePort;
    if (port === undefined) {
      // Cannot happen with a running compute; if it does, the client sees its connection closed rather than a hang.
      this.ctx.log(`endpoint ${this.branch}: no compute port known; closing the client`);
      this.unpipe(client);
      return;
    }
    const server = net.connect({ host: '127.0.0.1', port });
    server.setNoDelay(true);
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      server.destroy();
      this.unpipe(client);
    };
    server.on('error', (e) => {
      this.ctx.log(`endpoint ${this.branch}: compute at 127.0.0.1:${port}: ${messageOf(e)}`);
      leave();
    });
    client.on('close', leave);
    server.on('close', leave);
    // pipe() applies backpressure each way; a half-close is passed on, and either side closing ends both.
    client.pipe(server);
    server.pipe(client);
  }

  /** A piped client is gone (or could not be piped): once per client. */
  private unpipe(client: net.Socket): void {
    if (!this.piped.delete(client)) return;
    client.destroy();
    if (!this.closed) this.step({ type: 'disconnect', nowMs: nowMs(), waited: false });
  }

  private async wake(): Promise<void> {
    this.wakeStartedMs = performance.now();
    this.ctx.log(`endpoint ${this.branch}: a client is waiting; starting the compute`);
    try {
      const state = readCluster(this.ctx.home);
      if (!state) throw new Error(`no cluster registry in ${this.ctx.home}`);
      const c = await startLocalCompute(state, { branch: this.branch, readOnly: false, timeoutMs: WAKE_TIMEOUT_MS }, this.ctx.home);
      this.computePort = c.port;
      markOwned(this.ctx.home, this.branch, c.controllerPid);
      this.lastWakeMs = Math.round(performance.now() - this.wakeStartedMs);
      this.wakes++;
      this.ctx.log(`endpoint ${this.branch}: compute ${c.name} takes connections on 127.0.0.1:${c.port} after ${this.lastWakeMs} ms`);
      this.operation = undefined;
      this.step({ type: 'started', nowMs: nowMs() });
    } catch (e) {
      this.ctx.log(`endpoint ${this.branch}: the compute did not start: ${messageOf(e)}`);
      this.operation = undefined;
      this.step({ type: 'startFailed', nowMs: nowMs(), reason: messageOf(e).split('\n')[0] ?? 'unknown' });
    }
  }

  private async sleep(): Promise<void> {
    const c = runningComputes(this.ctx.home).find((x) => x.name === this.branch && x.mode === 'read-write');
    // Clients of the compute's own port (its URL is in compute list) never passed through here: stopping would cut them off.
    const direct = c ? clientsOfPort(c.port) : 0;
    if (direct > 0) {
      this.ctx.log(`endpoint ${this.branch}: idle here, but compute ${c!.name} has ${direct} client(s) on its own port; not stopping it (the idle clock starts again)`);
      this.operation = undefined;
      this.step({ type: 'stopCancelled', nowMs: nowMs() });
      return;
    }
    if (c) {
      this.ctx.log(`endpoint ${this.branch}: idle for ${this.state.idleTimeoutMs / 1000} s; stopping compute ${c.name}`);
      const r = await stopCompute(c, COMPUTE_STOP_GRACE_MS);
      this.ctx.log(r.clean ? `endpoint ${this.branch}: compute stopped in ${r.ms} ms` : `endpoint ${this.branch}: compute killed after ${r.ms} ms (no clean stop within the grace period)`);
    }
    this.computePort = undefined;
    this.operation = undefined;
    this.step({ type: 'stopped', nowMs: nowMs() });
  }

  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const due = nextDeadlineMs(this.state);
    if (due === null || this.closed) return;
    this.timer = setTimeout(() => this.step({ type: 'tick', nowMs: nowMs() }), Math.max(0, due - nowMs()));
  }

  /** Stops listening and drops every client; waits for a start or stop in flight to end. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.state.phase === 'starting') {
      // Nobody will be piped to it: its controller's SIGTERM ends the start (a clean stop once it is up), so `down`,
      // which stops the proxy first, never leaves behind a compute it could not yet see.
      const pid = daemonPid(this.ctx.home, daemonName(this.branch));
      if (pid !== undefined) process.kill(pid, 'SIGTERM');
    }
    await new Promise<void>((resolve) => (this.listening ? this.server.close(() => resolve()) : resolve()));
    this.listening = false;
    for (const s of [...this.held, ...this.piped]) s.destroy();
    await this.operation;
  }
}

/**
 * Runs until SIGTERM/SIGINT: keeps one endpoint per branch of the registry,
 * re-read every RECONCILE_MS, and writes the report after every change.
 */
export async function runEndpointProxy(log: (line: string) => void, home = strataHome()): Promise<number> {
  const endpoints = new Map<string, BranchEndpoint>();
  let dirty = true;
  let allocating = false;
  const ctx: ProxyContext = { home, log, changed: () => (dirty = true) };
  const writeReport = (): void => {
    if (!dirty) return;
    dirty = false;
    writeEndpointsStatus({ pid: process.pid, updatedUnixMs: Date.now(), endpoints: [...endpoints.values()].map((e) => e.report()) }, home);
  };

  const reconcile = (): void => {
    let state: ClusterState | undefined;
    try {
      state = readCluster(home);
    } catch (e) {
      // A registry being hand-edited: keep serving what was there.
      log(`cannot read the registry: ${messageOf(e)}`);
    }
    if (!state) return;
    if (state.branches.some((b) => state.endpoints[b.name] === undefined) && !allocating) {
      // A branch made without the CLI (the console): give it an endpoint; the next look serves it.
      allocating = true;
      ensureEndpoints(home)
        .catch((e: unknown) => log(`cannot give new branches an endpoint: ${messageOf(e)}`))
        .finally(() => (allocating = false));
    }
    const computes = runningComputes(home).filter((c) => c.mode === 'read-write');
    for (const b of state.branches) {
      const conf = state.endpoints[b.name];
      if (!conf) continue;
      let ep = endpoints.get(b.name);
      if (ep && ep.port !== conf.port) {
        void ep.close();
        endpoints.delete(b.name);
        ep = undefined;
      }
      if (!ep) {
        ep = new BranchEndpoint(b.name, conf.port, conf.idleSeconds, ctx);
        endpoints.set(b.name, ep);
        dirty = true;
      }
      ep.listen();
      ep.configure(conf.idleSeconds);
      ep.observe(computes.find((c) => c.timelineId === b.timelineId));
    }
    for (const [name, ep] of endpoints) {
      if (state.branches.some((b) => b.name === name && state.endpoints[name] !== undefined)) continue;
      log(`endpoint ${name}: the branch is gone; closing it`);
      void ep.close();
      endpoints.delete(name);
      dirty = true;
    }
    writeReport();
  };

  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  reconcile();
  const interval = setInterval(reconcile, RECONCILE_MS);
  // Changes between looks (a client came, a compute started) are reported at once, not at the next look.
  const reporter = setInterval(writeReport, 50);
  log(`endpoint proxy running (pid ${process.pid}); ${endpoints.size} endpoint(s)`);
  await stop;
  clearInterval(interval);
  clearInterval(reporter);
  log('stopping: closing the endpoints, waiting for starts and stops in flight');
  await Promise.all([...endpoints.values()].map((e) => e.close()));
  dirty = true;
  endpoints.clear();
  writeReport();
  return 0;
}
