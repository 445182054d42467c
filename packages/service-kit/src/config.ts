/**
 * A service's configuration: command-line flags, falling back to environment
 * variables, validated with zod at boot. Each service names its flags, their
 * environment variables and its schema in its own `env.ts`.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { StrataError } from '@strata/core';
import { parseListen } from './http.js';

export class ConfigError extends StrataError {
  readonly code = 'INVALID_CONFIG' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `HOST:PORT` (IPv6 as `[::1]:PORT`) → `{host, port}`. */
export const listenSchema = z.string().transform((s, ctx) => {
  const l = parseListen(s);
  if (!l) {
    ctx.addIssue({ code: 'custom', message: 'must be HOST:PORT (IPv6 as [::1]:PORT)' });
    return z.NEVER;
  }
  return l;
});

/**
 * Parses `--flag value` arguments (every flag takes a string), fills the
 * missing ones from `env` (`flags` maps each flag to its variable; empty
 * values count as unset) and validates the result with `schema`. Throws
 * ConfigError naming the flag and the variable of every issue.
 */
export function loadFlags<S extends z.ZodType>(
  flags: Readonly<Record<string, string>>,
  schema: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): z.output<S> {
  let values: Record<string, string | undefined>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: Object.fromEntries(Object.keys(flags).map((k) => [k, { type: 'string' as const }])),
    });
    values = parsed.values as Record<string, string | undefined>;
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const merged: Record<string, string> = {};
  for (const [flag, envName] of Object.entries(flags)) {
    const v = values[flag] ?? env[envName];
    if (v !== undefined && v !== '') merged[flag] = v;
  }
  const r = schema.safeParse(merged);
  if (!r.success) {
    const msg = r.error.issues
      .map((i) => {
        const flag = i.path[0];
        return typeof flag === 'string' && flag in flags ? `--${flag} (${flags[flag]}): ${i.message}` : i.message;
      })
      .join('\n');
    throw new ConfigError(msg);
  }
  return r.data;
}
