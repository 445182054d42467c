#!/usr/bin/env node
/**
 * The `strata` process: built to apps/cli/dist/strata.mjs, which the
 * `./strata` launcher runs (`strata redo …` runs the smaller
 * dist/strata-redo.mjs). Replay worker threads that load this bundle are not
 * the command line.
 */
import { isMainThread } from 'node:worker_threads';
import { main } from './main.js';

if (isMainThread) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`strata: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
