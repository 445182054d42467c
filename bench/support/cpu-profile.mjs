/**
 * Preloaded with `--import` (through NODE_OPTIONS, which may not carry `--cpu-prof` itself):
 * profiles the whole process with the inspector and writes `CPU.<pid>.cpuprofile` into
 * $STRATA_CPU_PROF_DIR when it exits, for Chrome DevTools or speedscope.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.STRATA_CPU_PROF_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  // Same-thread sessions answer synchronously, so this runs before the process is gone.
  session.post('Profiler.stop', (err, result) => {
    if (err === null && result !== undefined) writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
