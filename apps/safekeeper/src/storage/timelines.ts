/**
 * All timelines of this safekeeper, under
 *   DATA/tenants/<tenantId>/timelines/<timelineId>/{control.json, wal/}
 * Creation builds the directory under a staging name and renames it into
 * place; deletion renames it away before removing it. A crash in either
 * leaves a dot-directory that `open` removes, never a half timeline.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TimelineNotFound } from '@strata/core';
import { TimelineExists } from '../errors.js';
import type { SafekeeperMetrics } from '../metrics.js';
import { CONTROL_FORMAT_VERSION, type TimelineControl } from './control-file.js';
import { fsyncDir, isNotFound } from './fs-util.js';
import { Timeline } from './timeline.js';
import { DEFAULT_SEGMENT_BYTES } from './wal-store.js';

export const HEX_ID = /^[0-9a-f]{32}$/;

export interface NewTimelineParams {
  tenantId: string;
  timelineId: string;
  startLsn: bigint;
  conf: TimelineControl['conf'];
  /** innodb_page_size of the database whose redo this is; MariaDB's default when absent. */
  pageSize?: TimelineControl['pageSize'];
}

export interface TimelineRegistryOptions {
  dataDir: string;
  nodeId: number;
  metrics: SafekeeperMetrics;
  segmentBytes?: number;
  /** Bytes of each timeline's newest WAL kept in memory for readers (wal-tail-cache.ts); 0 turns it off. */
  walTailCacheBytes?: number;
  /** Wall clock for `createdAt`. */
  now?: () => Date;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

export class TimelineRegistry {
  private readonly timelines = new Map<string, Timeline>();
  /** Create/delete in progress per key, so two requests never race on one directory. */
  private readonly busy = new Map<string, Promise<unknown>>();

  private constructor(private readonly options: TimelineRegistryOptions) {}

  /** The safekeeper's metrics, for the data paths that only hold the registry. */
  get metrics(): SafekeeperMetrics {
    return this.options.metrics;
  }

  /** Loads every timeline under the data directory, cleaning up interrupted creates and deletes. */
  static async open(options: TimelineRegistryOptions): Promise<TimelineRegistry> {
    const registry = new TimelineRegistry(options);
    await mkdir(join(options.dataDir, 'tenants'), { recursive: true });
    for (const tenantId of await listDir(join(options.dataDir, 'tenants'))) {
      if (!HEX_ID.test(tenantId)) continue;
      const timelinesDir = join(options.dataDir, 'tenants', tenantId, 'timelines');
      for (const name of await listDir(timelinesDir)) {
        if (name.startsWith('.')) {
          await rm(join(timelinesDir, name), { recursive: true, force: true });
          continue;
        }
        if (!HEX_ID.test(name)) continue;
        const timeline = await Timeline.load(join(timelinesDir, name), registry.timelineOptions());
        registry.timelines.set(`${tenantId}/${name}`, timeline);
      }
    }
    return registry;
  }

  private timelineOptions() {
    return {
      metrics: this.options.metrics,
      ...(this.options.segmentBytes !== undefined ? { segmentBytes: this.options.segmentBytes } : {}),
      ...(this.options.walTailCacheBytes !== undefined ? { walTailCacheBytes: this.options.walTailCacheBytes } : {}),
    };
  }

  get nodeId(): number {
    return this.options.nodeId;
  }

  /** Size of the WAL segment files of every timeline here. */
  get segmentBytes(): number {
    return this.options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  }

  get size(): number {
    return this.timelines.size;
  }

  all(): Timeline[] {
    return [...this.timelines.values()];
  }

  list(tenantId: string): Timeline[] {
    return this.all()
      .filter((t) => t.tenantId === tenantId)
      .sort((a, b) => a.timelineId.localeCompare(b.timelineId));
  }

  get(tenantId: string, timelineId: string): Timeline {
    const t = this.timelines.get(`${tenantId}/${timelineId}`);
    if (!t) throw new TimelineNotFound(tenantId, timelineId);
    return t;
  }

  private exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.busy.set(key, tail);
    void tail.then(() => {
      if (this.busy.get(key) === tail) this.busy.delete(key);
    });
    return run;
  }

  /**
   * Creates a timeline with empty WAL at `startLsn`. Creating one that exists
   * with the same start and configuration returns it (`created: false`), so
   * a proposer can "create if missing"; anything else is TimelineExists.
   */
  create(params: NewTimelineParams): Promise<{ timeline: Timeline; created: boolean }> {
    const key = `${params.tenantId}/${params.timelineId}`;
    return this.exclusive(key, async () => {
      const existing = this.timelines.get(key);
      if (existing) {
        const c = existing.control;
        if (c.timelineStartLsn !== params.startLsn) {
          throw new TimelineExists(params.tenantId, params.timelineId, `it starts at LSN ${c.timelineStartLsn}`);
        }
        if (JSON.stringify(c.conf) !== JSON.stringify(params.conf)) {
          throw new TimelineExists(params.tenantId, params.timelineId, `its configuration is generation ${c.conf.generation}, members ${c.conf.members.join(',')}`);
        }
        return { timeline: existing, created: false };
      }
      return { timeline: await this.build(params), created: true };
    });
  }

  /**
   * Creates a timeline from a copy of another safekeeper's (a pull): the new
   * timeline starts empty at `startLsn` in a staging directory, `fill`
   * writes its WAL and consensus state there, and only a complete copy is
   * renamed into place. If `fill` throws, nothing is left behind. A timeline
   * that already exists is returned as it is (`created: false`): pulling
   * twice is not an error.
   */
  createFrom(params: NewTimelineParams, fill: (staging: Timeline) => Promise<void>): Promise<{ timeline: Timeline; created: boolean }> {
    const key = `${params.tenantId}/${params.timelineId}`;
    return this.exclusive(key, async () => {
      const existing = this.timelines.get(key);
      if (existing) return { timeline: existing, created: false };
      return { timeline: await this.build(params, fill), created: true };
    });
  }

  /** Builds a timeline under a staging name, fills it, renames it into place and registers it. */
  private async build(params: NewTimelineParams, fill?: (staging: Timeline) => Promise<void>): Promise<Timeline> {
    const key = `${params.tenantId}/${params.timelineId}`;
    const timelinesDir = join(this.options.dataDir, 'tenants', params.tenantId, 'timelines');
    await mkdir(timelinesDir, { recursive: true });
    const staging = join(timelinesDir, `.creating-${params.timelineId}-${randomBytes(4).toString('hex')}`);
    await mkdir(join(staging, 'wal'), { recursive: true });
    const control: TimelineControl = {
      formatVersion: CONTROL_FORMAT_VERSION,
      nodeId: this.options.nodeId,
      tenantId: params.tenantId,
      timelineId: params.timelineId,
      conf: params.conf,
      term: 0n,
      termHistory: [],
      timelineStartLsn: params.startLsn,
      walFlushLsn: params.startLsn,
      commitLsn: params.startLsn,
      backupLsn: params.startLsn,
      remoteConsistentLsn: params.startLsn,
      peerHorizonLsn: params.startLsn,
      createdAt: (this.options.now?.() ?? new Date()).toISOString(),
      ...(params.pageSize !== undefined ? { pageSize: params.pageSize } : {}),
    };
    const dir = join(timelinesDir, params.timelineId);
    try {
      const probe = await Timeline.create(staging, control, this.timelineOptions());
      try {
        await fill?.(probe);
      } finally {
        await probe.close();
      }
      // The probe's close recorded the exact WAL end in its control file (see timeline.ts).
      await fsyncDir(join(staging, 'wal'));
      await fsyncDir(staging);
      await rename(staging, dir);
      await fsyncDir(timelinesDir);
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      throw e;
    }
    const timeline = await Timeline.load(dir, this.timelineOptions());
    this.timelines.set(key, timeline);
    return timeline;
  }

  /** Removes the timeline and its WAL from this safekeeper. */
  delete(tenantId: string, timelineId: string): Promise<void> {
    const key = `${tenantId}/${timelineId}`;
    return this.exclusive(key, async () => {
      const timeline = this.get(tenantId, timelineId);
      this.timelines.delete(key);
      await timeline.close();
      const timelinesDir = join(this.options.dataDir, 'tenants', tenantId, 'timelines');
      const doomed = join(timelinesDir, `.deleting-${timelineId}-${randomBytes(4).toString('hex')}`);
      await rename(timeline.dir, doomed);
      await fsyncDir(timelinesDir);
      await rm(doomed, { recursive: true, force: true });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((t) => t.close()));
    this.timelines.clear();
  }
}
