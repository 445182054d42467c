#!/usr/bin/env node
/**
 * The compute controller process of a local cluster: what the console starts
 * for a compute (packages/client/src/local/compute-start.ts), with no CLI in
 * between. Runs in the foreground until SIGTERM (clean stop).
 */
import { parseControllerArgs, ControllerUsageError } from './controller-args.js';
import { runController } from './controller.js';
import { loadControllerEnv } from './env.js';

async function main(): Promise<number> {
  const args = parseControllerArgs(process.argv.slice(2), loadControllerEnv(), {
    out: (line) => process.stdout.write(`${line}\n`),
    log: (line) => process.stderr.write(`${new Date().toISOString()} [compute] ${line}\n`),
  });
  return runController(args);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    const usage = e instanceof ControllerUsageError;
    process.stderr.write(`compute: ${e instanceof Error ? (usage ? e.message : (e.stack ?? e.message)) : String(e)}\n`);
    process.exit(usage ? 64 : 1);
  },
);
