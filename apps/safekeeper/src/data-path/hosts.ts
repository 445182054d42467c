/**
 * The acceptor host of each open timeline, shared by the consensus route
 * (proposer requests) and peer recovery: both must go through one host per
 * timeline so that its serialization queue orders all writes to the WAL.
 */
import type { Timeline } from '../storage/timeline.js';
import { AcceptorHost } from './acceptor-host.js';

export class AcceptorHosts {
  // Keyed by the Timeline object: a deleted and re-created timeline gets a fresh host.
  private readonly hosts = new WeakMap<Timeline, AcceptorHost>();

  /** `knownNodes`: this node and its --peers (undefined without peers), which a membership switch may name. */
  constructor(
    private readonly nodeId: number,
    private readonly knownNodes?: ReadonlySet<number> | undefined,
  ) {}

  of(t: Timeline): AcceptorHost {
    let h = this.hosts.get(t);
    if (!h) this.hosts.set(t, (h = new AcceptorHost(this.nodeId, t, this.knownNodes)));
    return h;
  }

  /** The host if one was made already (no proposer has spoken otherwise). */
  peek(t: Timeline): AcceptorHost | undefined {
    return this.hosts.get(t);
  }
}
