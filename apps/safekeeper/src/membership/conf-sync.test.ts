/**
 * ConfSync between two real safekeeper apps on loopback: a hint makes the
 * lagging one ask its peer, and it adopts only what the peer holds.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen, memoryLogger, type Listening } from '@strata/service-kit';
import { TENANT, TIMELINE, createBody, json, testApp, type TestApp } from '../app.test-util.js';
import { AcceptorHosts } from '../data-path/hosts.js';
import type { Timeline } from '../storage/timeline.js';
import { ConfSync } from './conf-sync.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const gen1 = { generation: 1, members: [1, 2, 3] };
const gen2 = { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] };

describe('ConfSync: a newer configuration named by a compute is taken from a peer that holds it, never from the hint', () => {
  let peer: TestApp;
  let lagging: TestApp;
  let server: Listening;
  let t: Timeline;
  let hosts: AcceptorHosts;
  let now = 0;
  const sync = () => new ConfSync({ nodeId: 2, peers: new Map([[1, server.url], [2, 'http://127.0.0.1:1']]), hosts, log: memoryLogger(), intervalMs: 1000, now: () => now });

  beforeEach(async () => {
    peer = await testApp({ nodeId: 1 });
    lagging = await testApp({ nodeId: 2 });
    for (const a of [peer, lagging]) expect((await a.app.request(base, json(createBody({ conf: gen1 })))).status).toBe(201);
    server = await listen(peer.app.fetch, { host: '127.0.0.1', port: 0 });
    t = lagging.deps.timelines.get(TENANT, TIMELINE);
    hosts = new AcceptorHosts(2);
    hosts.of(t);
  });
  afterEach(async () => {
    await server.close();
    await peer.close();
    await lagging.close();
  });

  it('adopts the newest configuration a peer holds', async () => {
    await peer.deps.timelines.get(TENANT, TIMELINE).updateConsensus({ conf: gen2 });
    const s = sync();
    s.hint(t, 2);
    await s.idle();
    expect(t.control.conf).toEqual(gen2);
    expect(hosts.of(t).acceptor.conf).toEqual(gen2);
  });

  it('a forged hint (no peer holds it) changes nothing; checks are rate-limited per timeline', async () => {
    const s = sync();
    s.hint(t, 9);
    await s.idle();
    expect(t.control.conf).toEqual(gen1);
    // The peer switches now, but a second hint within the interval asks nobody.
    await peer.deps.timelines.get(TENANT, TIMELINE).updateConsensus({ conf: gen2 });
    now += 500;
    s.hint(t, 9);
    await s.idle();
    expect(t.control.conf).toEqual(gen1);
    now += 600;
    s.hint(t, 9);
    await s.idle();
    expect(t.control.conf).toEqual(gen2);
  });
});
