#!/usr/bin/env node
/**
 * Entry of the `strata redo …` bundle (dist/strata.mjs). Only the redo engine
 * and node's own modules are loaded: the full CLI pulls in the AWS SDK, hono and
 * the service code, a quarter of a second of module loading a replay would pay
 * for nothing.
 */
import { isMainThread } from 'node:worker_threads';
import { StrataError } from '@strata/core';
import { installNativeCrc32c } from '@strata/datadir';
import { cmdRedoApply, cmdRedoDump } from './commands/redo.js';
import { isParseArgsError, USAGE, UsageError } from './usage.js';

export async function redoMain(argv: string[]): Promise<number> {
  // Every mtr and every written page is checksummed: the native CRC is most of a replay's checksum time.
  installNativeCrc32c();
  const [cmd, sub, ...rest] = argv;
  try {
    if (cmd === 'redo' && sub === 'dump') return cmdRedoDump(rest);
    if (cmd === 'redo' && sub === 'apply') return await cmdRedoApply(rest);
    throw new UsageError(`unknown command: ${[cmd, sub].filter(Boolean).join(' ')}`);
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      process.stderr.write(`strata: ${(e as Error).message}\n\n${USAGE}`);
      return 64;
    }
    if (e instanceof StrataError) {
      process.stderr.write(`strata: ${e.code}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('E')) {
      process.stderr.write(`strata: ${e.message}\n`);
      return 1;
    }
    throw e;
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
