#!/usr/bin/env node
/**
 * The pageserver process: built to apps/pageserver/dist/pageserver.mjs, which `./strata up`
 * runs. Everything else lives in the library (main.ts and below), so nothing
 * has to find out whether it is the main module.
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pageserver: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
