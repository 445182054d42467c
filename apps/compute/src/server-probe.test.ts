import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { greets } from './server-probe.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A loopback server that writes `reply` (in pieces of `chunk` bytes) to each connection, or nothing. */
function serve(reply: Buffer | undefined, chunk = 1 << 20): Promise<number> {
  const s = net.createServer((c) => {
    c.on('error', () => {});
    if (!reply) return;
    for (let o = 0; o < reply.length; o += chunk) c.write(reply.subarray(o, o + chunk));
  });
  servers.push(s);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port)));
}

/** The start of a real handshake: length 0x5b, sequence 0, protocol 10, the server version. */
const GREETING = Buffer.concat([Buffer.from([0x5b, 0, 0, 0, 10]), Buffer.from('5.5.5-10.11.19-MariaDB\0')]);

describe('[COMPUTE][READY] a server is ready once it greets a new connection', () => {
  it('a protocol-10 handshake is ready, even when it arrives a byte at a time', async () => {
    expect(await greets(await serve(GREETING))).toBe(true);
    expect(await greets(await serve(GREETING, 1))).toBe(true);
  });

  it('an error packet first (too many connections, a blocked host) is not ready', async () => {
    expect(await greets(await serve(Buffer.from([0x17, 0, 0, 0, 0xff, 0x10, 0x04])))).toBe(false);
  });

  it('nothing listening, or a server that stays silent, is not ready', async () => {
    const port = await serve(undefined);
    expect(await greets(port, '127.0.0.1', 200)).toBe(false);
    await new Promise((r) => servers.pop()!.close(r));
    expect(await greets(port)).toBe(false);
  });
});
