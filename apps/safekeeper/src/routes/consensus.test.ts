import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeFrames, encodeFrames, type Message } from '@strata/core/consensus';
import { TENANT, TIMELINE, createBody, ed25519Keys, json, testApp, type Keys, type TestApp } from '../app.test-util.js';

const base = `/v1/tenants/${TENANT}/timelines`;
const consensusUrl = `${base}/${TIMELINE}/consensus`;
const U64_MAX = (1n << 64n) - 1n;
const head = { tenantId: TENANT, timelineId: TIMELINE, generation: 1 } as const;

const bump = (term: bigint): Message => ({ type: 'TermBumpRequest', ...head, term });
const membershipSwitch = (generation: number, members: number[], newMembers?: number[]): Message => ({
  type: 'MembershipSwitchRequest',
  ...head,
  generation,
  conf: { generation, members, ...(newMembers ? { newMembers } : {}) },
});

describe('the HTTP consensus route takes the membership coordinator\'s messages, from operators only', () => {
  let keys: Keys;
  let t: TestApp;
  let admin: string;
  beforeEach(async () => {
    keys = await ed25519Keys();
    t = await testApp({ verifier: keys.verifier });
    admin = await keys.token({ scope: 'admin' });
    const created = await t.app.request(base, json(createBody(), { authorization: `Bearer ${admin}` }));
    expect(created.status).toBe(201);
  });
  afterEach(() => t.close());

  const send = (token: string, messages: readonly Message[]) =>
    t.app.request(consensusUrl, { method: 'POST', body: encodeFrames(messages), headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` } });
  const status = async () => (await t.app.request(`${base}/${TIMELINE}`, { headers: { authorization: `Bearer ${admin}` } })).json();

  it('a tenant token (the compute\'s, for its own tenant) and a page server token get 403 FORBIDDEN, and nothing changes', async () => {
    const before = await status();
    const tokens = [await keys.token({ scope: 'tenant', tenant_id: TENANT }), await keys.token({ scope: 'pageserverapi' })];
    for (const token of tokens) {
      for (const messages of [[membershipSwitch(2, [])], [bump(U64_MAX)], [bump(2n)], [membershipSwitch(2, [1, 2, 4])]]) {
        const res = await send(token, messages);
        expect(res.status).toBe(403);
        expect(await res.json()).toMatchObject({ code: 'FORBIDDEN' });
      }
    }
    expect(await status()).toEqual(before);
  });

  it('admin and safekeeperdata tokens switch the configuration and bump the term', async () => {
    const switched = await send(admin, [membershipSwitch(2, [1, 2, 3], [1, 2, 4])]);
    expect(switched.status).toBe(200);
    expect(decodeFrames(new Uint8Array(await switched.arrayBuffer()))).toMatchObject([{ type: 'MembershipSwitchResponse', conf: { generation: 2, newMembers: [1, 2, 4] } }]);
    const peer = await keys.token({ scope: 'safekeeperdata' });
    const bumped = await send(peer, [{ ...bump(7n), generation: 2 }]);
    expect(bumped.status).toBe(200);
    expect(decodeFrames(new Uint8Array(await bumped.arrayBuffer()))).toMatchObject([{ type: 'TermBumpResponse', term: 7n }]);
    expect(await status()).toMatchObject({ term: '7', conf: { generation: 2, members: [1, 2, 3], newMembers: [1, 2, 4] } });
  });

  it.each<[string, Message[], RegExp]>([
    ['a TermBumpRequest with term 2^64 − 1', [bump(U64_MAX)], /term.* below 2\^62/],
    ['a TermBumpRequest with term 2^62', [bump(1n << 62n)], /term.* below 2\^62/],
    ['a MembershipSwitchRequest with no members', [membershipSwitch(2, [])], /conf.members: a configuration needs at least one member/],
    ['a MembershipSwitchRequest with a member twice', [membershipSwitch(2, [1, 2, 2])], /a node is listed twice/],
    ['a joint configuration with no new members', [membershipSwitch(2, [1, 2, 3], [])], /conf.newMembers/],
    ['node ID 0', [membershipSwitch(2, [0, 1, 2])], /node IDs start at 1/],
    ['generation 2^32 − 1', [membershipSwitch(0xffff_ffff, [1, 2, 3])], /generation.* below 2\^31/],
    ['a good message followed by a bad one', [bump(3n), bump(U64_MAX)], /term.* below 2\^62/],
    ['a Greeting', [{ type: 'Greeting', ...head, proposerId: 9, conf: { generation: 5, members: [1] } }], /Greeting is not accepted/],
    ['a VoteRequest', [{ type: 'VoteRequest', ...head, term: 5n }], /VoteRequest is not accepted/],
    ['an AppendRequest', [{ type: 'AppendRequest', ...head, term: 0n, beginLsn: 1000n, endLsn: 1004n, commitLsn: 1004n, data: new Uint8Array(4) }], /AppendRequest is not accepted/],
    ['a message for another timeline', [{ ...bump(3n), timelineId: '00000000000000000000000000000002' }], /sent to/],
  ])('with an admin token, %s is a typed 400 and changes nothing', async (_name, messages, message) => {
    const before = await status();
    const res = await send(admin, messages);
    expect(res.status).toBe(400);
    // Out-of-range numbers may already be refused by core's codec (CORRUPT_FRAME); the rest by this route's checks.
    expect(await res.json()).toMatchObject({ code: expect.stringMatching(/^(BAD_REQUEST|CORRUPT_FRAME)$/), message: expect.stringMatching(message) });
    expect(await status()).toEqual(before);
  });

  it('frames that do not decode are CORRUPT_FRAME, and a body past 1 MiB is PAYLOAD_TOO_LARGE', async () => {
    const bad = await t.app.request(consensusUrl, { method: 'POST', body: new Uint8Array([0, 0, 0, 2, 99, 1]), headers: { authorization: `Bearer ${admin}` } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'CORRUPT_FRAME' });
    const big = await t.app.request(consensusUrl, { method: 'POST', body: new Uint8Array(1024 * 1024 + 1), headers: { authorization: `Bearer ${admin}` } });
    expect(big.status).toBe(413);
  });
});
