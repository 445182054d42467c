/**
 * `strata down`: computes first (a clean stop ships their last redo), then
 * the page server, the safekeepers and the S3 server. Data stays in the
 * home; `up` resumes it.
 */
import { runningComputes, stopLocalCompute } from './computes.js';
import { stopDaemon } from './daemon.js';
import { readCluster, strataHome } from './state.js';

export async function down(out: (line: string) => void, home = strataHome()): Promise<void> {
  if (await stopDaemon(home, 'console', 30_000)) out('stopped console');
  for (const c of runningComputes(home)) {
    if (await stopLocalCompute(c.name, home)) out(`stopped compute ${c.name}`);
  }
  const state = readCluster(home);
  if (await stopDaemon(home, 'pageserver', 60_000)) out('stopped pageserver');
  const sks = state?.safekeepers ?? [1, 2, 3].map((id) => ({ id }));
  const stopped = await Promise.all(sks.map((sk) => stopDaemon(home, `safekeeper-${sk.id}`, 30_000)));
  sks.forEach((sk, i) => stopped[i] && out(`stopped safekeeper ${sk.id}`));
  if (await stopDaemon(home, 's3', 10_000)) out('stopped s3');
}
