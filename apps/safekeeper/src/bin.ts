#!/usr/bin/env node
/**
 * The safekeeper process: built to apps/safekeeper/dist/safekeeper.mjs, which `./strata up`
 * runs. Everything else lives in the library (main.ts and below), so nothing
 * has to find out whether it is the main module.
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`safekeeper: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
