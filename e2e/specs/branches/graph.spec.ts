import { expect, shot, test, unique, withSql } from '../../fixtures/test.js';

interface Branch {
  name: string;
  parent: string | null;
  lsn: string | null;
  lastRecordLsn: string | null;
}

test('[BRANCHES][GRAPH] the tree is drawn parent → child at the branch LSN; a branch page shows its range, parent, changes and computes', async ({ page, api, quiesce, cluster }) => {
  test.setTimeout(240_000);
  await quiesce();
  const name = unique('graph');
  await api.settled(await api.mutate<{ id: string }>('branches.create', { from: 'main', name }));
  const child = (await api.query<Branch[]>('branches.list')).find((b) => b.name === name)!;
  expect(child.lsn).not.toBeNull();

  await page.goto('/branches');
  const graph = page.getByTestId('branch-graph');
  await expect(graph.getByTestId('graph-branch-main')).toBeVisible();
  await expect(graph.getByTestId(`graph-branch-${name}`)).toBeVisible();
  // The edge leaves main's line at the child's branch point.
  await expect(graph.getByTestId(`graph-edge-main-${name}`)).toHaveAttribute('data-lsn', child.lsn!);
  await shot(page, 'branch-graph');

  // From the graph to the branch's page.
  await graph.getByTestId(`graph-branch-${name}`).click();
  await expect(page).toHaveURL(new RegExp(`/branches/${name}$`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Branch ${name}`);
  await expect(page.getByTestId('branch-parent')).toHaveText(`main at LSN ${child.lsn}`);
  await expect(page.getByTestId('branch-lsn-range')).toContainText(`${child.lsn} –`);
  await expect(page.getByTestId('branch-time-range')).toContainText('branched');
  await expect(page.getByTestId('branch-changes')).toContainText('of WAL');
  await expect(page.getByTestId('no-computes')).toBeVisible();
  // Its own place in the graph, highlighted, on its page too.
  await expect(page.getByTestId('branch-graph').getByTestId(`graph-branch-${name}`)).toBeVisible();

  // main moves on: the child's page says by how much since the branch point.
  await withSql(cluster.mainUrl, async (c) => {
    await c.query('CREATE DATABASE IF NOT EXISTS e2e_graph');
    await c.query('CREATE TABLE IF NOT EXISTS e2e_graph.t (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB');
    for (let i = 0; i < 20; i++) await c.query("INSERT INTO e2e_graph.t (pad) VALUES (REPEAT('g', 200))");
  });
  await quiesce(BigInt(child.lsn!));
  const mainHead = BigInt((await api.query<Branch[]>('branches.list')).find((b) => b.name === 'main')!.lastRecordLsn!);
  expect(mainHead).toBeGreaterThan(BigInt(child.lsn!));
  await page.reload();
  await expect(page.getByTestId('parent-changes')).toContainText(/\(\d[\d,]* bytes\)/);
  const moved = Number((await page.getByTestId('parent-changes').innerText()).match(/\(([\d,]+) bytes\)/)![1]!.replaceAll(',', ''));
  expect(moved).toBeGreaterThan(0);
  expect(BigInt(moved)).toBeLessThanOrEqual(mainHead - BigInt(child.lsn!));
  await shot(page, 'branch-page');

  // main's page: a root, its child listed and linked, its compute with a connection panel.
  await page.getByTestId('branch-parent').getByRole('link', { name: 'main' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Branch main');
  await expect(page.getByTestId('branch-parent')).toHaveText('none (a root branch)');
  await expect(page.getByTestId('branch-children').getByRole('link', { name })).toBeVisible();
  await expect(page.getByTestId('branch-computes').getByRole('row').filter({ hasText: 'main' }).first()).toBeVisible();
  await expect(page.getByTestId('connection-main').getByTestId('connection-command')).toHaveText(/^mariadb -h 127\.0\.0\.1 -P \d+ -u root -p$/);

  // An unknown branch is not a blank page.
  await page.goto('/branches/no-such-branch');
  await expect(page.locator('main [role=alert]')).toContainText('not found');

  await api.settled(await api.mutate<{ id: string }>('branches.delete', { name }));
});
