/**
 * Tenants and their timelines on local disk:
 * `DATA/tenants/<tenant>/timelines/<timeline>/` (index.json + layers/ +
 * aux/). Loads every timeline at start, ancestors before their branches, and
 * owns creation (import, branch) and deletion. New timelines are built in a
 * temporary directory and renamed into place, so a crash never leaves half
 * a timeline that a restart would load.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { assert, LsnOutOfRange, TimelineNotFound } from '@strata/core';
import type { Logger } from '@strata/service-kit';
import type { RemoteStorage } from '@strata/remote-storage';
import { importDatadir, readMeta, RemoteTimeline, restoreTimelineDir, Timeline, type TimelineMeta, type TimelineOptions } from './storage/index.js';
import { AlreadyExists, InvalidDatadir, TenantNotFound, TimelineHasChildren } from './errors.js';

const HEX_ID = /^[0-9a-f]{32}$/;
/** Directories being built or removed carry this; a restart removes them. */
const TEMP_SUFFIX = '.tmp';

export interface TenantManagerOptions {
  readonly dataDir: string;
  readonly log: Logger;
  /** Remote storage: every timeline is mirrored there, and restored from it when the local disk lost it. */
  readonly remote?: RemoteStorage | undefined;
  /** Freeze an open layer into a delta layer file at this size. */
  readonly checkpointBytes?: number | undefined;
}

export interface TimelineListener {
  added(t: Timeline): void;
  /** Before a timeline goes away: stop using it. */
  removing(t: Timeline): Promise<void>;
}

export interface ImportedTimeline {
  readonly timeline: Timeline;
  readonly lsn: bigint;
  readonly pages: number;
  readonly tablespaces: number;
  readonly auxFiles: number;
}

export function newId(): string {
  return randomBytes(16).toString('hex');
}

export class TenantManager {
  /** tenant → timeline id → timeline. */
  private readonly tenants = new Map<string, Map<string, Timeline>>();
  private readonly listeners: TimelineListener[] = [];

  private constructor(private readonly opts: TenantManagerOptions) {}

  /**
   * Timelines that remote storage has and the local disk does not (a wiped or
   * new disk) come back from remote storage alone: index and aux files now,
   * layers on first read.
   */
  static async restoreFromRemote(opts: TenantManagerOptions): Promise<number> {
    if (!opts.remote) return 0;
    let restored = 0;
    const seen = new Set<string>();
    for (const key of await opts.remote.list('tenants/')) {
      const m = /^tenants\/([0-9a-f]{32})\/timelines\/([0-9a-f]{32})\/index\.json$/.exec(key);
      if (!m || seen.has(key)) continue;
      seen.add(key);
      const [, tenantId, timelineId] = m as unknown as [string, string, string];
      const dir = join(opts.dataDir, 'tenants', tenantId, 'timelines', timelineId);
      if (Timeline.exists(dir)) continue;
      const tmp = dir + TEMP_SUFFIX;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      await restoreTimelineDir(new RemoteTimeline(opts.remote, RemoteTimeline.prefixFor(tenantId, timelineId)), tmp);
      renameSync(tmp, dir);
      opts.log.info('timeline restored from remote storage', { tenantId, timelineId });
      restored++;
    }
    return restored;
  }

  /** Opens every timeline under `DATA/tenants`. A timeline whose ancestor is missing is logged and skipped. */
  static open(opts: TenantManagerOptions): TenantManager {
    const m = new TenantManager(opts);
    const root = join(opts.dataDir, 'tenants');
    mkdirSync(root, { recursive: true });
    for (const tenantId of readdirSync(root)) {
      if (!HEX_ID.test(tenantId)) continue;
      const tlRoot = join(root, tenantId, 'timelines');
      if (!existsSync(tlRoot)) continue;
      const metas: TimelineMeta[] = [];
      for (const name of readdirSync(tlRoot)) {
        if (name.endsWith(TEMP_SUFFIX)) {
          rmSync(join(tlRoot, name), { recursive: true, force: true });
          continue;
        }
        if (HEX_ID.test(name) && Timeline.exists(join(tlRoot, name))) metas.push(readMeta(join(tlRoot, name)));
      }
      const loaded = new Map<string, Timeline>();
      m.tenants.set(tenantId, loaded);
      // Ancestors first: a branch holds its ancestor's Timeline object for reads below the branch point.
      let pending = metas;
      while (pending.length > 0) {
        const next = pending.filter((meta) => meta.ancestor !== null && !loaded.has(meta.ancestor.timelineId));
        for (const meta of pending) {
          if (next.includes(meta)) continue;
          const ancestor = meta.ancestor ? loaded.get(meta.ancestor.timelineId) : undefined;
          loaded.set(meta.timelineId, Timeline.load(m.timelineDir(tenantId, meta.timelineId), m.timelineOptions(ancestor, tenantId, meta.timelineId)));
        }
        if (next.length === pending.length) {
          for (const meta of next) opts.log.error('timeline skipped: its ancestor is missing', { tenantId, timelineId: meta.timelineId, ancestor: meta.ancestor });
          break;
        }
        pending = next;
      }
    }
    return m;
  }

  subscribe(l: TimelineListener): void {
    this.listeners.push(l);
  }

  private timelineOptions(ancestor: Timeline | undefined, tenantId: string, timelineId: string): TimelineOptions {
    const remote = this.opts.remote;
    const rt = remote ? new RemoteTimeline(remote, RemoteTimeline.prefixFor(tenantId, timelineId)) : undefined;
    return {
      ...(this.opts.checkpointBytes !== undefined ? { checkpointBytes: this.opts.checkpointBytes } : {}),
      ...(ancestor ? { ancestor } : {}),
      ...(rt ? { remote: rt } : {}),
    };
  }

  /**
   * After a restart: learn from each remote index what is already uploaded,
   * then queue whatever local layers and index the remote copy lacks (a crash
   * between a local write and its upload).
   */
  async syncRemote(): Promise<void> {
    for (const t of this.all()) {
      const rt = t.remote;
      if (!rt) continue;
      const remoteMeta = await rt.downloadIndex().catch(() => undefined);
      // What the remote index lists is there (it goes up after its files): only the rest is queued again.
      if (remoteMeta) t.markRemote(remoteMeta);
      t.scheduleFullUpload();
    }
  }

  /** Wait for every timeline's uploads (shutdown: "uploads finished, index written"). */
  async drainUploads(): Promise<void> {
    await Promise.all(this.all().map((t) => t.remote?.drain()));
  }

  private timelineDir(tenantId: string, timelineId: string): string {
    return join(this.opts.dataDir, 'tenants', tenantId, 'timelines', timelineId);
  }

  tenantIds(): string[] {
    return [...this.tenants.keys()].sort();
  }

  all(): Timeline[] {
    return [...this.tenants.values()].flatMap((m) => [...m.values()]);
  }

  list(tenantId: string): Timeline[] {
    const m = this.tenants.get(tenantId);
    if (!m) throw new TenantNotFound(tenantId);
    return [...m.values()].sort((a, b) => a.timelineId.localeCompare(b.timelineId));
  }

  get(tenantId: string, timelineId: string): Timeline {
    const t = this.tenants.get(tenantId)?.get(timelineId);
    if (!t) throw new TimelineNotFound(tenantId, timelineId);
    return t;
  }

  children(t: Timeline): Timeline[] {
    return this.list(t.tenantId).filter((c) => c.metaSnapshot.ancestor?.timelineId === t.timelineId);
  }

  /**
   * The timeline that holds `lsn` for reads: a branch below its branch point
   * reads from its ancestor at the same LSN. Below a root timeline's start
   * there is nothing.
   */
  resolveRead(t: Timeline, lsn: bigint): Timeline {
    let cur = t;
    for (let depth = 0; lsn < cur.initLsn; depth++) {
      assert(depth < 1000, 'ancestor chain too deep');
      const a = cur.metaSnapshot.ancestor;
      if (!a) throw new LsnOutOfRange(lsn, `before the start of timeline ${t.timelineId} (${cur.initLsn})`);
      cur = this.get(cur.tenantId, a.timelineId);
    }
    return cur;
  }

  /** Size of a timeline's layer files on local disk. */
  layerBytes(t: Timeline): number {
    const dir = join(t.dir, 'layers');
    let n = 0;
    for (const f of readdirSync(dir)) {
      try {
        n += statSync(join(dir, f)).size;
      } catch {
        // removed under us (a crash leftover being cleaned): not part of the timeline
      }
    }
    return n;
  }

  /** `tenant import`: a clean datadir becomes a new root timeline. */
  importDatadir(datadir: string, ids: { tenantId?: string | undefined; timelineId?: string | undefined }): ImportedTimeline {
    let st;
    try {
      st = statSync(datadir);
    } catch {
      throw new InvalidDatadir(datadir, 'no such directory on the page server');
    }
    if (!st.isDirectory()) throw new InvalidDatadir(datadir, 'not a directory');
    if (!existsSync(join(datadir, 'ib_logfile0'))) throw new InvalidDatadir(datadir, 'no ib_logfile0');
    const tenantId = ids.tenantId ?? newId();
    const timelineId = ids.timelineId ?? newId();
    const existing = this.tenants.get(tenantId);
    // One tenant is one datadir lineage: its other timelines are branches.
    if (existing && existing.size > 0) throw new AlreadyExists(`tenant ${tenantId}`);
    const dir = this.timelineDir(tenantId, timelineId);
    const tmp = dir + TEMP_SUFFIX;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(this.opts.dataDir, 'tenants', tenantId, 'timelines'), { recursive: true });
    let r;
    try {
      r = importDatadir(datadir, tmp, { tenantId, timelineId });
      r.timeline.close();
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    renameSync(tmp, dir);
    const timeline = Timeline.load(dir, this.timelineOptions(undefined, tenantId, timelineId));
    timeline.scheduleFullUpload();
    this.register(timeline);
    this.opts.log.info('tenant imported', { tenantId, timelineId, lsn: r.lsn, pages: r.pages, tablespaces: r.tablespaces, auxFiles: r.auxFiles });
    return { timeline, lsn: r.lsn, pages: r.pages, tablespaces: r.tablespaces, auxFiles: r.auxFiles };
  }

  /**
   * A branch of `parent` at `lsn`, in O(1): a new index with the ancestor
   * and the tablespace map as of `lsn`; no page is copied. The parent is
   * flushed up to the branch point first, so that the branch's reads below
   * it survive a restart of the page server before the parent re-ingests.
   */
  branch(parent: Timeline, lsn: bigint, newTimelineId?: string): Timeline {
    if (lsn > parent.lastRecordLsn) throw new LsnOutOfRange(lsn, `beyond the last record LSN ${parent.lastRecordLsn} of timeline ${parent.timelineId}`);
    if (lsn < parent.initLsn) throw new LsnOutOfRange(lsn, `before the start ${parent.initLsn} of timeline ${parent.timelineId}`);
    // Below the GC horizon the layers may be gone; branch points and snapshots there stay readable.
    parent.checkReadable(lsn);
    const timelineId = newTimelineId ?? newId();
    if (this.tenants.get(parent.tenantId)?.has(timelineId)) throw new AlreadyExists(`timeline ${parent.tenantId}/${timelineId}`);
    if (parent.diskConsistentLsn < lsn) parent.flush();
    const pm = parent.metaSnapshot;
    const meta: TimelineMeta = {
      version: 1,
      tenantId: parent.tenantId,
      timelineId,
      pageSize: pm.pageSize,
      logFileSize: pm.logFileSize,
      ancestor: { timelineId: parent.timelineId, lsn },
      initLsn: lsn,
      diskConsistentLsn: lsn,
      layers: [],
      tablespaces: pm.tablespaces.filter((e) => e.lsn <= lsn),
      auxSets: [],
      snapshots: [],
      lsnTimes: [],
      gc: null,
    };
    const dir = this.timelineDir(parent.tenantId, timelineId);
    const tmp = dir + TEMP_SUFFIX;
    rmSync(tmp, { recursive: true, force: true });
    Timeline.create(tmp, meta).close();
    renameSync(tmp, dir);
    const t = Timeline.load(dir, this.timelineOptions(parent, parent.tenantId, timelineId));
    t.scheduleFullUpload();
    this.register(t);
    this.opts.log.info('timeline branched', { tenantId: t.tenantId, timelineId, ancestor: parent.timelineId, lsn });
    return t;
  }

  async delete(t: Timeline): Promise<void> {
    const children = this.children(t);
    if (children.length > 0) throw new TimelineHasChildren(t.timelineId, children.map((c) => c.timelineId));
    // Remote storage first: a page server restored from it must not bring a deleted timeline back,
    // and a failure here leaves the timeline whole (uploaded again) for the operator to retry.
    const remote = t.remote;
    if (remote) {
      try {
        const objects = await remote.destroy();
        this.opts.log.info('timeline removed from remote storage', { tenantId: t.tenantId, timelineId: t.timelineId, objects });
      } catch (e) {
        remote.resume();
        t.scheduleFullUpload();
        throw e;
      }
    }
    for (const l of this.listeners) await l.removing(t);
    const m = this.tenants.get(t.tenantId);
    m?.delete(t.timelineId);
    t.close();
    // A layer write under way ends first (close() stops it from listing anything).
    await t.flushed();
    // Renamed first: a crash half way through the removal leaves a temp dir, not a broken timeline.
    const tmp = t.dir + TEMP_SUFFIX;
    renameSync(t.dir, tmp);
    rmSync(tmp, { recursive: true, force: true });
    this.opts.log.info('timeline deleted', { tenantId: t.tenantId, timelineId: t.timelineId });
  }

  /**
   * Deletes a whole tenant: its timelines children first (each as `delete`
   * does), then its directory. Returns how many timelines went.
   */
  async deleteTenant(tenantId: string): Promise<number> {
    const timelines = this.list(tenantId);
    let left = timelines;
    // Each pass removes the leaves; bounded by the depth of the branch tree.
    for (let pass = 0; left.length > 0 && pass <= timelines.length; pass++) {
      const leaves = left.filter((t) => this.children(t).length === 0);
      for (const t of leaves) await this.delete(t);
      left = this.list(tenantId);
    }
    assert(left.length === 0, `tenant ${tenantId}: timelines left after deleting the tree`);
    this.tenants.delete(tenantId);
    // Whatever else the tenant left in remote storage (nothing, unless a timeline delete was cut short).
    if (this.opts.remote) for (const key of await this.opts.remote.list(`tenants/${tenantId}/`)) await this.opts.remote.delete(key);
    const dir = join(this.opts.dataDir, 'tenants', tenantId);
    const tmp = dir + TEMP_SUFFIX;
    if (existsSync(dir)) renameSync(dir, tmp);
    rmSync(tmp, { recursive: true, force: true });
    this.opts.log.info('tenant deleted', { tenantId, timelines: timelines.length });
    return timelines.length;
  }

  private register(t: Timeline): void {
    let m = this.tenants.get(t.tenantId);
    if (!m) this.tenants.set(t.tenantId, (m = new Map()));
    m.set(t.timelineId, t);
    for (const l of this.listeners) l.added(t);
  }

  /** Freeze every open layer to disk (shutdown). */
  flushAll(): void {
    for (const t of this.all()) t.flush();
  }

  close(): void {
    for (const t of this.all()) t.close();
  }
}
