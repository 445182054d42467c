import type { ValidationTargets } from 'hono';
import { validator } from 'hono/validator';
import type { z } from 'zod';
import { BadRequest } from './errors.js';

export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Hono validator backed by a zod schema; failures become BAD_REQUEST with every issue named. */
export function zv<Target extends keyof ValidationTargets, S extends z.ZodType>(target: Target, schema: S) {
  return validator(target, (value): z.output<S> => {
    const r = schema.safeParse(value);
    if (!r.success) throw new BadRequest(`invalid ${target}: ${describeIssues(r.error)}`);
    return r.data;
  });
}
