/** One WAL receiver per timeline, started and stopped as timelines come and go. */
import type { Logger } from '@strata/service-kit';
import type { PageserverMetrics } from '../metrics.js';
import type { Timeline } from '../storage/index.js';
import type { TenantManager, TimelineListener } from '../tenant-manager.js';
import { type ReceiverStatus, WalReceiver } from './wal-receiver.js';

export interface ReceiversOptions {
  readonly safekeepers: readonly string[];
  readonly token?: string | undefined;
  readonly metrics: PageserverMetrics;
  readonly log: Logger;
  readonly keepaliveMs?: number;
  readonly checkpointTimeoutMs?: number;
  readonly onBug?: ((e: Error) => void) | undefined;
  readonly backpressure?: ((t: Timeline) => Promise<void>) | undefined;
}

export class WalReceivers implements TimelineListener {
  private readonly byTimeline = new Map<Timeline, WalReceiver>();

  constructor(private readonly o: ReceiversOptions) {}

  /** Starts a receiver for every timeline the manager has now and will have. */
  attach(tenants: TenantManager): void {
    tenants.subscribe(this);
    for (const t of tenants.all()) this.added(t);
  }

  added(t: Timeline): void {
    if (this.byTimeline.has(t)) return;
    const r = new WalReceiver({ timeline: t, ...this.o });
    this.byTimeline.set(t, r);
    r.start();
  }

  async removing(t: Timeline): Promise<void> {
    const r = this.byTimeline.get(t);
    this.byTimeline.delete(t);
    await r?.stop();
  }

  status(t: Timeline): ReceiverStatus | undefined {
    return this.byTimeline.get(t)?.status;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.byTimeline.values()].map((r) => r.stop()));
  }

  /** Report what is durable after the final flush of a shutdown. */
  async reportAll(): Promise<void> {
    await Promise.all([...this.byTimeline.values()].map((r) => r.report()));
  }
}
