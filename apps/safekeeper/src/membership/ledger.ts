/**
 * What survives a lost timeline directory: the node's ledger of timelines it
 * ever held, and the date its data directory was initialised. The join rule
 * (`@strata/core/consensus` join.ts) uses both to tell a member that never
 * held a timeline (it may join as a fresh acceptor) from one that lost it
 * (it must not: it may have voted and acknowledged WAL).
 *
 *   DATA/node.json              {nodeId, initializedAt}   written once, at the first start
 *   DATA/ledger/<tenant>.<timeline>                        one empty file per timeline held
 *
 * A ledger entry is made durable (file, then directory fsync) before the
 * timeline can take part in consensus: at create and join, and before the
 * first consensus message of any other timeline (a pull). Only an explicit
 * delete removes it. An entry whose timeline directory is gone at start is a
 * lost timeline: reported, never recreated empty.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, isNotFound } from '../storage/fs-util.js';
import { TimelineNotFound } from '@strata/core';
import type { Timeline } from '../storage/timeline.js';
import type { TimelineRegistry } from '../storage/timelines.js';

interface NodeFile {
  nodeId: number;
  initializedAt: string;
}

export class MembershipLedger {
  private constructor(
    private readonly dir: string,
    private readonly held: Set<string>,
    /** When the data directory was initialised (ms since the epoch). */
    readonly initializedAtMs: number,
  ) {}

  /**
   * Opens (or starts) the ledger of `dataDir`. A data directory from before
   * the ledger existed is dated by its oldest timeline and its timelines are
   * recorded; a new one is dated now.
   */
  static async open(dataDir: string, nodeId: number, present: readonly Timeline[], now: () => Date = () => new Date()): Promise<MembershipLedger> {
    const dir = join(dataDir, 'ledger');
    await mkdir(dir, { recursive: true });
    const nodePath = join(dataDir, 'node.json');
    let node: NodeFile;
    try {
      node = JSON.parse(await readFile(nodePath, 'utf8')) as NodeFile;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      let oldest = now().getTime();
      for (const t of present) oldest = Math.min(oldest, Date.parse(t.control.createdAt) - 1);
      node = { nodeId, initializedAt: new Date(oldest).toISOString() };
      await writeDurably(dataDir, 'node.json', JSON.stringify(node));
    }
    const held = new Set<string>();
    for (const name of await readdir(dir)) if (!name.startsWith('.')) held.add(name);
    const ledger = new MembershipLedger(dir, held, Date.parse(node.initializedAt));
    for (const t of present) await ledger.record(t.tenantId, t.timelineId);
    return ledger;
  }

  has(tenantId: string, timelineId: string): boolean {
    return this.held.has(key(tenantId, timelineId));
  }

  /** Records, durably, that this node holds the timeline (before it may vote). */
  async record(tenantId: string, timelineId: string): Promise<void> {
    const k = key(tenantId, timelineId);
    if (this.held.has(k)) return;
    const fd = await open(join(this.dir, k), 'w');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
    await fsyncDir(this.dir);
    this.held.add(k);
  }

  /** An explicit delete: the node no longer holds the timeline and may be given it again. */
  async forget(tenantId: string, timelineId: string): Promise<void> {
    const k = key(tenantId, timelineId);
    await rm(join(this.dir, k), { force: true });
    await fsyncDir(this.dir);
    this.held.delete(k);
  }

  /** Timelines this node held whose directories are gone. */
  lost(isPresent: (tenantId: string, timelineId: string) => boolean): { tenantId: string; timelineId: string }[] {
    const out: { tenantId: string; timelineId: string }[] = [];
    for (const k of this.held) {
      const [tenantId, timelineId] = k.split('.') as [string, string];
      if (!isPresent(tenantId, timelineId)) out.push({ tenantId, timelineId });
    }
    return out.sort((a, b) => `${a.tenantId}.${a.timelineId}`.localeCompare(`${b.tenantId}.${b.timelineId}`));
  }
}

function key(tenantId: string, timelineId: string): string {
  return `${tenantId}.${timelineId}`;
}

async function writeDurably(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, text);
  const fd = await open(tmp, 'r+');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
  await rename(tmp, join(dir, name));
  await fsyncDir(dir);
}

/** Does the registry hold the timeline? */
export function holds(timelines: TimelineRegistry, tenantId: string, timelineId: string): boolean {
  try {
    timelines.get(tenantId, timelineId);
    return true;
  } catch (e) {
    if (e instanceof TimelineNotFound) return false;
    throw e;
  }
}
