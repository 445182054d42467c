import { expect, expectOperationFinished, shot, test, withSql } from '../../fixtures/test.js';

interface SafekeeperOverview {
  nodes: { id: number; healthy: boolean }[];
  timelines: { branch: string | null; members: { nodeId: number; generation: number; members: number[]; newMembers: number[] | null; flushLsn: string; commitLsn: string }[] }[];
}

test('[SAFEKEEPERS][MEMBERSHIP] three nodes added from the console; main moves from safekeepers 1,2,3 to 4,5,6 step by step; the compute keeps committing', async ({ page, api, cli, cluster, quiesce }) => {
  test.setTimeout(300_000);
  const mainMembers = async () => (await api.query<SafekeeperOverview>('safekeepers.overview')).timelines.find((t) => t.branch === 'main')!;
  await page.goto('/safekeepers');
  const nodes = page.getByTestId('safekeeper-nodes');
  const node = (id: number) => nodes.getByRole('row').filter({ has: page.getByRole('cell', { name: String(id), exact: true }) });
  await expect(nodes.locator('tbody tr')).toHaveCount(3);

  // Three new nodes from the console, each an operation that starts one (no CLI involved).
  for (const id of [4, 5, 6]) {
    await test.step(`add safekeeper ${id}`, async () => {
      await page.getByRole('button', { name: 'Add a safekeeper node' }).click();
      const op = page.getByTestId('operation').filter({ hasText: 'safekeepers.add' }).filter({ hasText: new RegExp(`safekeeper ${id} at http://127\\.0\\.0\\.1:\\d+`) });
      await expect(op).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
      await expect(node(id)).toContainText('up');
    });
  }
  // The CLI sees the same cluster: six nodes in its registry, all up.
  expect((await cli(['status'])).match(/^safekeeper \d+ http:\S+ up$/gm)).toHaveLength(6);

  const card = page.getByTestId('timeline-main');
  const before = await mainMembers();
  expect(before.members.map((m) => [m.nodeId, m.members])).toEqual([[1, [1, 2, 3]], [2, [1, 2, 3]], [3, [1, 2, 3]]]);
  const generation = before.members[0]!.generation;
  await expect(card.locator('tbody tr')).toHaveCount(3);

  await test.step('change membership to 4,5,6', async () => {
    await card.getByLabel('New members (node ids)').fill('4,5,6');
    await card.getByRole('button', { name: 'Change membership' }).click();
    // The joint change as the CLI reports it: seven steps, each finished with what it did.
    const op = await expectOperationFinished(page, 'safekeepers.membership', 180_000);
    const steps = op.locator('[data-step-status]');
    await expect(steps).toHaveText([
      /plan the change.*\[1,2,3\] → joint \d+ → final \d+ \[4,5,6\]/,
      /joint configuration \(old and new\)/,
      /pull the timeline into new members/,
      /bump the term/,
      /new members catch up/,
      /final configuration/,
      /done.*generation \d+ members 4,5,6/,
    ]);
    for (const s of await steps.all()) await expect(s).toHaveAttribute('data-step-status', 'finished');
    await shot(page, 'safekeepers');
  });

  await test.step('every new member holds the final configuration', async () => {
    await expect(async () => {
      const main = await mainMembers();
      for (const id of [4, 5, 6]) {
        const m = main.members.find((x) => x.nodeId === id);
        expect(m, `member ${id}`).toBeDefined();
        expect(m!.members).toEqual([4, 5, 6]);
        expect(m!.newMembers).toBeNull();
        expect(m!.generation).toBeGreaterThan(generation);
      }
    }).toPass({ timeout: 30_000 });
    for (const id of [4, 5, 6]) await expect(card.getByRole('row').filter({ has: page.getByRole('cell', { name: String(id), exact: true }) }).first()).toContainText('[4,5,6]');
  });

  await test.step('main compute follows: a write commits on 4,5,6', async () => {
    const before = BigInt((await api.query<{ name: string; commitLsn: string | null }[]>('computes.list')).find((c) => c.name === 'main')!.commitLsn ?? '0');
    await withSql(cluster.mainUrl, async (c) => {
      await c.query('CREATE DATABASE e2e_members');
      await c.query('CREATE TABLE e2e_members.t (id INT PRIMARY KEY) ENGINE=InnoDB');
      await c.query('INSERT INTO e2e_members.t VALUES (1)');
    });
    await expect(async () => {
      const main = (await api.query<{ name: string; commitLsn: string | null; lagBytes: string | null }[]>('computes.list')).find((c) => c.name === 'main')!;
      expect(BigInt(main.commitLsn ?? '0')).toBeGreaterThan(before);
      expect(main.lagBytes).toBe('0');
      const members = await mainMembers();
      // The redo is on the new members' disks (the old ones no longer get any).
      for (const id of [4, 5, 6]) expect(BigInt(members.members.find((x) => x.nodeId === id)!.flushLsn)).toBeGreaterThanOrEqual(BigInt(main.commitLsn!));
      for (const m of members.members.filter((x) => x.nodeId <= 3)) expect(BigInt(m.flushLsn), `removed member ${m.nodeId}`).toBeLessThan(BigInt(main.commitLsn!));
    }).toPass({ timeout: 30_000 });
  });

  // The page server keeps streaming from a removed member until its receiver re-picks after 30 s
  // without WAL (IDLE_REPICK_MS in apps/pageserver/src/ingest/wal-receiver.ts): wait for it here so
  // the specs after this one see main's head.
  await test.step('the page server ingests it (from the new members)', () => quiesce().then(() => undefined));
});
