import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOperator, createHarness, type Harness } from '../testing/harness';

describe('[OPERATORS] sign in, sessions and roles (real Postgres, no cluster)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ cluster: false });
    await addOperator(h.deps, { username: 'admin', password: 'correct horse', role: 'admin' });
    await addOperator(h.deps, { username: 'viewer', password: 'battery staple', role: 'viewer' });
  });
  afterAll(() => h?.close());

  it('refuses a wrong password with UNAUTHORIZED and sets no cookie', async () => {
    await expect(h.caller().operators.signIn({ username: 'admin', password: 'nope' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(h.caller().operators.signIn({ username: 'ghost', password: 'nope' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(h.jar.token).toBeUndefined();
  });

  it('signs in with a session cookie; me tells who; sign out ends the session', async () => {
    const token = await h.signIn('admin', 'correct horse');
    expect(await h.caller(token).operators.me()).toMatchObject({ username: 'admin', role: 'admin' });
    await h.caller(token).operators.signOut();
    expect(h.jar.token).toBeUndefined();
    expect(await h.caller(token).operators.me()).toBeNull();
    await expect(h.caller(token).operators.list()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('viewers see, admins act', async () => {
    const viewer = await h.signIn('viewer', 'battery staple');
    const admin = await h.signIn('admin', 'correct horse');
    expect((await h.caller(viewer).operators.list()).map((o) => o.username)).toEqual(['admin', 'viewer']);
    await expect(h.caller(viewer).operators.create({ username: 'x', password: 'longenough', role: 'viewer' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(h.caller(viewer).branches.create({ from: 'main', name: 'dev' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(h.caller(viewer).safekeepers.changeMembership({ timelineId: '0'.repeat(32), members: [1] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const created = await h.caller(admin).operators.create({ username: 'eve', password: 'longenough', role: 'viewer' });
    await expect(h.caller(admin).operators.create({ username: 'eve', password: 'longenough', role: 'viewer' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await h.caller(admin).operators.setRole({ id: created.id, role: 'admin' })).role).toBe('admin');
    await h.caller(admin).operators.remove({ id: created.id });
  });

  it('never removes the last admin', async () => {
    const admin = await h.signIn('admin', 'correct horse');
    const me = (await h.caller(admin).operators.me())!;
    await expect(h.caller(admin).operators.setRole({ id: me.id, role: 'viewer' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('last admin') });
  });

  it('validates input with zod (BAD_REQUEST)', async () => {
    const admin = await h.signIn('admin', 'correct horse');
    await expect(h.caller(admin).operators.create({ username: 'Bad Name', password: 'short', role: 'viewer' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('a cluster registry that is missing or not ours is a typed NO_CLUSTER error', async () => {
    const admin = await h.signIn('admin', 'correct horse');
    await expect(h.caller(admin).branches.list()).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    writeFileSync(join(h.home, 'cluster.json'), JSON.stringify({ version: 2 }));
    await expect(h.caller(admin).overview.get()).rejects.toMatchObject({ code: 'PRECONDITION_FAILED', message: expect.stringContaining('not a Strata cluster registry') });
  });
});
