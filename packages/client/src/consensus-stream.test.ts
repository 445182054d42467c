import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type AcceptorMessage, CONSENSUS_STREAM_PROTOCOL, encodeMessage } from '@strata/core/consensus';
import { ConsensusStream } from './consensus-stream.js';

const TENANT = '0123456789abcdef0123456789abcdef';
const TIMELINE = '00000000000000000000000000000001';
const ack = (timelineId = TIMELINE): AcceptorMessage => ({ type: 'AppendResponse', tenantId: TENANT, timelineId, generation: 1, nodeId: 1, term: 2n, flushLsn: 300n, commitLsn: 200n });

/** A fake safekeeper: upgrades every request, then sends what `reply` says for connection number n. */
async function fakeSafekeeper(reply: (n: number, socket: Duplex) => void): Promise<{ url: string; server: Server; upgrades: () => number }> {
  let n = 0;
  const server = createServer((_req, res) => res.writeHead(500).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    expect(req.headers.upgrade).toBe(CONSENSUS_STREAM_PROTOCOL);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${CONSENSUS_STREAM_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`);
    reply(n++, socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, upgrades: () => n };
}

describe('ConsensusStream (the safekeeper is hostile too)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function open(url: string, got: AcceptorMessage[], closes: string[]): ConsensusStream {
    const s = new ConsensusStream({
      baseUrl: url,
      tenantId: TENANT,
      timelineId: TIMELINE,
      backoffMsMin: 10,
      backoffMsMax: 50,
      onOpen: () => undefined,
      onDrain: () => undefined,
      onMessage: (m) => got.push(m),
      onClose: (reason) => closes.push(reason),
    });
    cleanups.push(() => s.close());
    return s;
  }

  it('a corrupt frame, a message for another timeline or a proposer\'s message ends the connection; the next one is used', async () => {
    const bad = [
      Uint8Array.from([0, 0, 0, 5, 99, 1, 2, 3, 4]),
      encodeMessage(ack('00000000000000000000000000000002')),
      encodeMessage({ type: 'VoteRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 3n }),
      Uint8Array.from([0xff, 0xff, 0xff, 0xff]),
    ];
    const fake = await fakeSafekeeper((n, socket) => socket.write(n < bad.length ? bad[n]! : encodeMessage(ack())));
    cleanups.push(() => fake.server.close());
    const got: AcceptorMessage[] = [];
    const closes: string[] = [];
    const s = open(fake.url, got, closes);
    const deadline = Date.now() + 10_000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([ack()]);
    expect(closes).toHaveLength(bad.length);
    for (const c of closes) expect(c).toMatch(/corrupt frame/);
    expect(s.state).toBe('open');
    expect(s.opens).toBe(bad.length + 1);
  });

  it('a refused upgrade is an attempt that failed, with the service\'s code; attempts back off', async () => {
    const server = createServer((_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'UNAUTHENTICATED', message: 'no', requestId: '' })));
    server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      const body = JSON.stringify({ code: 'UNAUTHENTICATED', message: 'bad token', requestId: '' });
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const closes: string[] = [];
    const s = open(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, [], closes);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.opens).toBe(0);
    expect(closes[0]).toBe('HTTP 401 UNAUTHENTICATED: bad token');
    // 10, 20, 40, 50, 50... ms (with jitter down to half): a bounded number of attempts in 500 ms.
    expect(closes.length).toBeGreaterThanOrEqual(3);
    expect(closes.length).toBeLessThanOrEqual(25);
    s.close();
    const n = closes.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(closes.length).toBe(n);
  });

  it('an open connection that answers nothing is cut by the liveness check', async () => {
    const fake = await fakeSafekeeper(() => undefined);
    cleanups.push(() => fake.server.close());
    const closes: string[] = [];
    const s = new ConsensusStream({
      baseUrl: fake.url,
      tenantId: TENANT,
      timelineId: TIMELINE,
      silenceMsMax: 100,
      onOpen: () => undefined,
      onDrain: () => undefined,
      onMessage: () => undefined,
      onClose: (reason) => closes.push(reason),
    });
    cleanups.push(() => s.close());
    while (s.state !== 'open') await new Promise((r) => setTimeout(r, 5));
    // Nothing written yet: silence is not a failure.
    s.checkLiveness(Date.now() + 1000);
    expect(s.state).toBe('open');
    await new Promise((r) => setTimeout(r, 5));
    s.write(encodeMessage({ type: 'VoteRequest', tenantId: TENANT, timelineId: TIMELINE, generation: 1, term: 3n }));
    s.checkLiveness(Date.now() + 1000);
    expect(closes[0]).toMatch(/no answer for/);
    expect(s.state).toBe('waiting');
  });

  it('close() during an attempt that gets no answer ends the attempt (nothing holds the process)', async () => {
    const accepted: Socket[] = [];
    const server = createTcpServer((sock) => accepted.push(sock.resume()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const closes: string[] = [];
    const s = open(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, [], closes);
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(s.state).toBe('connecting');
    const ended = new Promise((r) => accepted[0]!.once('close', r));
    s.close();
    await ended;
    expect(s.state).toBe('closed');
    expect(closes).toEqual([]);
  });
});
