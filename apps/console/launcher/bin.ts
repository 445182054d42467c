#!/usr/bin/env node
/**
 * The console launcher process: built to apps/console/dist/launcher.mjs,
 * which `./strata up` runs (start.ts holds the launcher itself).
 */
import { main } from './start';

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`[console] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
