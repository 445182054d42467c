/**
 * Refused inputs over the console's HTTP entry (real Postgres, no cluster): each is answered before
 * any work starts, in words per field, with no JSON or regex in the message (issue 14).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOperations } from '@strata/db';
import { createTrpcHandler } from '../http-handler';
import { addOperator, createHarness, type Harness } from '../testing/harness';

const CONSOLE = 'http://127.0.0.1:7000';
const SAME_ORIGIN = { host: '127.0.0.1:7000', origin: CONSOLE, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' };

interface ErrorBody {
  error: { message: string; data: { code: string; strata: { code: string } | null; fields: Record<string, string> | null } };
}

describe('[INPUTS] refused inputs are told in words, field by field', () => {
  let h: Harness;
  let handle: (req: Request) => Promise<Response>;
  let cookie: string;

  async function mutate(path: string, input: unknown): Promise<{ status: number; body: ErrorBody }> {
    const r = await handle(new Request(`${CONSOLE}/api/trpc/${path}`, { method: 'POST', headers: { ...SAME_ORIGIN, cookie }, body: JSON.stringify(input) }));
    return { status: r.status, body: (await r.json()) as ErrorBody };
  }

  beforeAll(async () => {
    h = await createHarness({ cluster: false });
    handle = createTrpcHandler(h.deps);
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    const r = await handle(new Request(`${CONSOLE}/api/trpc/operators.signIn`, { method: 'POST', headers: SAME_ORIGIN, body: JSON.stringify({ username: 'admin', password: 'correct horse' }) }));
    cookie = r.headers.get('set-cookie')!.split(';')[0]!;
  });
  afterAll(() => h?.close());

  it.each([
    ['an empty name', 'branches.create', { from: 'main', name: '' }, 'name: give a name', { name: 'give a name' }],
    ['a 3,000-character name', 'branches.create', { from: 'main', name: 'x'.repeat(3000) }, 'name: at most 63 characters', { name: 'at most 63 characters' }],
    ['LSN "abc"', 'branches.create', { from: 'main', name: 'dev', lsn: 'abc' }, 'lsn: an LSN is a whole number of at most 64 bits, like 21474836', { lsn: 'an LSN is a whole number of at most 64 bits, like 21474836' }],
    ['an empty time', 'timeTravel.query', { branch: 'main', at: '', sql: 'SELECT 1' }, 'at: give a time', { at: 'give a time' }],
    ['LSN "abc" for time travel', 'timeTravel.query', { branch: 'main', lsn: 'abc', sql: 'SELECT 1' }, 'lsn: an LSN is a whole number of at most 64 bits, like 21474836', { lsn: 'an LSN is a whole number of at most 64 bits, like 21474836' }],
  ])('%s', async (_what, path, input, message, fields) => {
    const r = await mutate(path, input);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe(message);
    expect(r.body.error.data.fields).toEqual(fields);
    expect(r.body.error.data.strata).toEqual({ code: 'INVALID', service: null, serviceCode: null });
  });

  it('a future time is refused with the latest time there is data, for branches, computes and time travel', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    for (const [path, input] of [
      ['branches.create', { from: 'main', name: 'later', at: future }],
      ['computes.start', { branch: 'main', readOnly: true, at: future }],
      ['timeTravel.query', { branch: 'main', at: future, sql: 'SELECT 1' }],
    ] as const) {
      const r = await mutate(path, input);
      expect(r.status, path).toBe(400);
      expect(r.body.error.message, path).toMatch(new RegExp(`^at: ${future.replace(/[.]/g, '\\.')} is in the future: the latest data is at \\d{4}-\\d\\d-\\d\\dT`));
    }
  });

  it('several bad fields are all named, and no message carries JSON or a regex', async () => {
    const r = await mutate('branches.create', { from: '', name: 'a b', lsn: '-1' });
    expect(Object.keys(r.body.error.data.fields ?? {}).sort()).toEqual(['from', 'lsn', 'name']);
    expect(r.body.error.message).not.toMatch(/[{[\]^$\\]/);
  });

  it('nothing started: no operation was recorded', async () => {
    expect(await listOperations(h.deps.db, { limit: 50 })).toEqual([]);
  });
});
