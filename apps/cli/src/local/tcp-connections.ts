/**
 * Clients connected to a local TCP port, counted from the kernel's socket
 * tables (/proc/net/tcp and tcp6). The endpoint proxy looks before it stops
 * an idle compute: clients that connected straight to the compute's own
 * port never passed through the proxy, and stopping the server under them
 * would cut them off. Counting sockets needs no database account and sees
 * every client, whichever user it logged in as.
 */
import { readFileSync } from 'node:fs';

/** TCP_ESTABLISHED in the `st` column (include/net/tcp_states.h). */
const ESTABLISHED = '01';

/** Established connections whose local end is `port` (the server's side of each client), in one /proc/net/tcp* table. */
export function establishedToPort(table: string, port: number): number {
  let n = 0;
  for (const line of table.split('\n').slice(1)) {
    // "  sl  local_address rem_address st …": the local address is "HEXIP:HEXPORT".
    const [, local, , st] = line.trim().split(/\s+/);
    if (st !== ESTABLISHED || local === undefined) continue;
    if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) n++;
  }
  return n;
}

/** Established client connections to `port` on this host (this network namespace). */
export function clientsOfPort(port: number): number {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      n += establishedToPort(readFileSync(file, 'utf8'), port);
    } catch {
      // No IPv6 table (IPv6 disabled): nothing listens there either.
    }
  }
  return n;
}
