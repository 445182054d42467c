/**
 * Network namespaces for tests that cut real links (as root, with iproute2):
 * a hub namespace holds a bridge; every node gets its own namespace with one
 * veth to the hub and one address on the test subnet. Only namespaces and
 * addresses this module creates are touched; cutting a node's link sets the
 * hub end of its veth down, healing sets it up. `destroy` deletes every
 * namespace (their veths go with them).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

function ip(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be used here, or null when they can (a probe namespace is created and deleted). */
export function netnsUnavailable(): string | null {
  const probe = `stp-probe-${process.pid}`;
  try {
    ip(['netns', 'add', probe]);
  } catch (e) {
    return `ip netns add is not permitted here (${e instanceof Error ? (e as { stderr?: Buffer }).stderr?.toString().trim() || e.message : String(e)})`;
  }
  try {
    ip(['-n', probe, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    return null;
  } catch (e) {
    return `veth pairs are not permitted in a network namespace here (${e instanceof Error ? e.message : String(e)})`;
  } finally {
    try {
      ip(['netns', 'del', probe]);
    } catch {
      // Nothing more to do: it was ours and is gone or will be with the process.
    }
  }
}

export interface NetNode {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
  /** Name of the veth's hub end. */
  readonly hubIf: string;
}

export class TestNetwork {
  readonly hub: string;
  private readonly nodes = new Map<string, NetNode>();
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly prefix: string,
    /** First three octets of the /24 used, e.g. '10.231.7'. */
    private readonly subnet: string,
  ) {
    this.hub = `${prefix}-hub`;
    ip(['netns', 'add', this.hub]);
    this.namespaces.push(this.hub);
    ip(['-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.hub, 'link', 'set', 'br0', 'up']);
  }

  /** A node with its own namespace and address `subnet.hostId`. */
  addNode(name: string, hostId: number): NetNode {
    const ns = `${this.prefix}-${name}`;
    const hubIf = `h${hostId}`;
    const address = `${this.subnet}.${hostId}`;
    ip(['netns', 'add', ns]);
    this.namespaces.push(ns);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', this.hub, 'link', 'add', hubIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['-n', this.hub, 'link', 'set', hubIf, 'master', 'br0']);
    ip(['-n', this.hub, 'link', 'set', hubIf, 'up']);
    ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    const node = { name, ns, address, hubIf };
    this.nodes.set(name, node);
    return node;
  }

  /** Cut `name` off from every other node (its link to the hub goes down). */
  cut(name: string): void {
    ip(['-n', this.hub, 'link', 'set', this.node(name).hubIf, 'down']);
  }

  heal(name: string): void {
    ip(['-n', this.hub, 'link', 'set', this.node(name).hubIf, 'up']);
  }

  node(name: string): NetNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** Spawn `cmd args` inside the node's namespace; killed by `destroy`. */
  spawn(name: string, cmd: string, args: readonly string[], cwd: string): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', this.node(name).ns, cmd, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
    return c;
  }

  async destroy(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    for (const ns of this.namespaces.reverse()) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // Already gone.
      }
    }
  }
}
