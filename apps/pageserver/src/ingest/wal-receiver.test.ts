/**
 * The WAL receiver's failures are typed: a page server whose safekeeper has
 * the timeline but answers the WAL request with an error logs the retry
 * with the error's code (SAFEKEEPER_BAD_REPLY), and keeps retrying.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataError } from '@strata/core';
import { memoryLogger } from '@strata/service-kit';
import { loadConfig } from '../env.js';
import { startPageserver, type RunningPageserver } from '../main.js';
import { LSN, seedTimeline } from '../seed-timeline.test-util.js';
import { ReceiverError } from './wal-receiver.js';

describe('WAL receiver errors', () => {
  let dataDir: string;
  let safekeeper: Server;
  let ps: RunningPageserver;
  const log = memoryLogger();
  let walRequests = 0;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-receiver-'));
    seedTimeline(dataDir);
    // A safekeeper that has the timeline but fails every WAL read.
    safekeeper = createServer((req, res) => {
      if (req.url?.includes('/wal?')) {
        walRequests++;
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"code":"INTERNAL","message":"disk on fire"}');
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ commitLsn: String(LSN + 100n), nodeId: 1 }));
    });
    await new Promise<void>((r) => safekeeper.listen(0, '127.0.0.1', r));
    const port = (safekeeper.address() as AddressInfo).port;
    ps = await startPageserver(loadConfig(['--listen', '127.0.0.1:0', '--data', dataDir, '--safekeepers', `127.0.0.1:${port}`], {}, dataDir), log);
  });
  afterAll(async () => {
    await ps.stop();
    await new Promise((r) => safekeeper.close(r));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is a StrataError with a code', () => {
    const e = new ReceiverError('CORRUPT_WAL', 'corrupt WAL from x');
    expect(e).toBeInstanceOf(StrataError);
    expect(e.code).toBe('CORRUPT_WAL');
  });

  it('logs a failing safekeeper reply with its code and retries', async () => {
    const deadline = Date.now() + 10_000;
    while (walRequests < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(walRequests).toBeGreaterThanOrEqual(2);
    const retry = log.lines.find((l) => l.msg === 'WAL receiver: retrying');
    expect(retry?.fields).toMatchObject({ code: 'SAFEKEEPER_BAD_REPLY', error: expect.stringMatching(/HTTP 500.*disk on fire/) });
  });
});
