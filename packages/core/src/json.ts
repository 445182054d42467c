/**
 * The JSON forms of core's types, one schema each, for every service,
 * client and the console: an LSN is a decimal string in JSON (a u64 does not
 * fit a JSON number), an id is 32 lowercase hex digits.
 */
import { z } from 'zod';

const U64_LIMIT = 1n << 64n;
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;

/** A decimal LSN as text, kept as text (for callers that only show it, like the console). */
export const lsnDecimal = z
  .string()
  .regex(DECIMAL, 'must be a decimal LSN')
  // zod runs every check even after one failed: this one must not throw on what the regex refused.
  .refine((v) => !DECIMAL.test(v) || BigInt(v) < U64_LIMIT, 'must fit in 64 bits');

/** A decimal LSN as text, parsed to a bigint. */
export const lsnString = lsnDecimal.transform(BigInt);

export const hexId = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits');
