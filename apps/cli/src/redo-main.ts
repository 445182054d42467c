#!/usr/bin/env node
/**
 * Entry of the `strata redo …` bundle (apps/cli/dist/strata-redo.mjs). Only the redo engine
 * and node's own modules are loaded: the full CLI pulls in the AWS SDK, hono and
 * the service code, a quarter of a second of module loading a replay would pay
 * for nothing.
 */
import { isMainThread } from 'node:worker_threads';
import { installNativeCrc32c } from '@strata/datadir';
import { cmdRedoApply, cmdRedoDump } from './commands/redo.js';
import { exitStatusFor, UsageError } from './usage.js';

export async function redoMain(argv: string[]): Promise<number> {
  // Every mtr and every written page is checksummed: the native CRC is most of a replay's checksum time.
  installNativeCrc32c();
  const [cmd, sub, ...rest] = argv;
  try {
    if (cmd === 'redo' && sub === 'dump') return cmdRedoDump(rest);
    if (cmd === 'redo' && sub === 'apply') return await cmdRedoApply(rest);
    throw new UsageError(`unknown command: ${[cmd, sub].filter(Boolean).join(' ')}`);
  } catch (e) {
    const status = exitStatusFor(e);
    if (status === undefined) throw e;
    return status;
  }
}

// Replay worker threads load this same bundle: only the main thread is the command line.
if (isMainThread) {
  redoMain(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`strata: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
