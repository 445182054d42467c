/**
 * One writer process of state.test.ts's cross-process case: adds `count`
 * branches named `<prefix><i>` to the registry under `home`, one change each.
 */
import { updateLocalCluster } from './state.js';

const [home, prefix, count] = process.argv.slice(2);
for (let i = 0; i < Number(count); i++) {
  const name = `${prefix}${i}`;
  await updateLocalCluster(home!, (now) => ({ ...now, branches: [...now.branches, { name, timelineId: (prefix === 'p' ? 'a' : 'b') + i.toString(16).padStart(31, '0'), parent: 'main', lsn: String(i), createdAt: 'now' }] }));
}
