/**
 * The fuzzer's source of chance and its mutators: byte strings (valid frames
 * made wrong), JSON values (valid bodies made wrong) and path segments.
 * Everything is drawn from one seeded Prng (core's mulberry32), so a seed
 * replays the same requests.
 */
import { Prng } from '../../../packages/core/src/prng.js';

export { Prng };

const U64_MAX = (1n << 64n) - 1n;

/** The u64 values where codecs and arithmetic break: 0, 1, around 2^31, 2^32, 2^53, 2^63 and 2^64. */
export const U64_EDGES: readonly bigint[] = [0n, 1n, 0x7fff_ffffn, 0xffff_ffffn, 1n << 32n, (1n << 53n) + 1n, (1n << 63n) - 1n, 1n << 63n, U64_MAX - 1n, U64_MAX];
export const U32_EDGES: readonly number[] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];
export const U16_EDGES: readonly number[] = [0, 1, 64, 65, 0x7fff, 0xffff];
export const U8_EDGES: readonly number[] = [0, 1, 2, 0x7f, 0x80, 0xff];

/** A u64 near `around` (a live value: the current term or flush LSN), or an edge. */
export function u64Near(rng: Prng, around: bigint): bigint {
  const d = BigInt(rng.int(0, 4096));
  const v = rng.chance(0.5) ? around + d : around - d;
  if (rng.chance(0.5)) return rng.pick(U64_EDGES);
  return v < 0n ? 0n : v > U64_MAX ? U64_MAX : v;
}

export function randomBytes(rng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.nextU32() & 0xff;
  return out;
}

/** A length for random bodies: mostly small, sometimes around a power of two, rarely large. */
export function randomLength(rng: Prng, max = 1 << 20): number {
  const r = rng.next();
  if (r < 0.6) return rng.int(0, 64);
  if (r < 0.9) return Math.min(max, 1 << rng.int(4, 16)) + rng.int(-2, 2) + 2;
  return rng.int(0, max);
}

function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function writeUint(buf: Uint8Array, off: number, size: 1 | 2 | 4 | 8, v: bigint): void {
  for (let i = size - 1; i >= 0; i--) {
    if (off + i < buf.length) buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** A field of an encoding, where a structured mutation writes an edge value. */
export interface Field {
  readonly off: number;
  readonly size: 1 | 2 | 4 | 8;
  /** Names it in the report: "term", "length prefix". */
  readonly name: string;
}

function edgeFor(rng: Prng, size: 1 | 2 | 4 | 8): bigint {
  switch (size) {
    case 1:
      return BigInt(rng.pick(U8_EDGES));
    case 2:
      return BigInt(rng.pick(U16_EDGES));
    case 4:
      return BigInt(rng.pick(U32_EDGES));
    case 8:
      return rng.pick(U64_EDGES);
  }
}

/**
 * One mutation of `b`: a bit flip, a byte set, a truncation, an extension,
 * an insertion or deletion, a duplicated or swapped range, or an edge value
 * written into one of `fields` (a length prefix, a count, a u64). Returns
 * the new bytes and what was done.
 */
export function mutateBytes(rng: Prng, b: Uint8Array, fields: readonly Field[] = []): { bytes: Uint8Array; what: string } {
  const n = b.length;
  const pos = () => rng.int(0, Math.max(0, n - 1));
  const kind = rng.int(0, fields.length > 0 ? 10 : 8);
  switch (kind) {
    case 0: {
      if (n === 0) return { bytes: randomBytes(rng, rng.int(1, 8)), what: 'random bytes for an empty one' };
      const out = b.slice();
      const p = pos();
      out[p]! ^= 1 << rng.int(0, 7);
      return { bytes: out, what: `bit flip at ${p}` };
    }
    case 1: {
      if (n === 0) return { bytes: new Uint8Array([rng.pick(U8_EDGES)]), what: 'one byte' };
      const out = b.slice();
      const p = pos();
      out[p] = rng.chance(0.5) ? rng.pick(U8_EDGES) : rng.nextU32() & 0xff;
      return { bytes: out, what: `byte set at ${p}` };
    }
    case 2: {
      const at = rng.int(0, n);
      return { bytes: b.slice(0, at), what: `truncated to ${at}` };
    }
    case 3: {
      const extra = randomBytes(rng, randomLength(rng, 64 << 10));
      return { bytes: concat(b, extra), what: `extended by ${extra.length}` };
    }
    case 4: {
      const at = rng.int(0, n);
      const ins = randomBytes(rng, rng.int(1, 32));
      return { bytes: concat(b.subarray(0, at), ins, b.subarray(at)), what: `${ins.length} bytes inserted at ${at}` };
    }
    case 5: {
      const at = rng.int(0, n);
      const len = rng.int(1, Math.max(1, n - at));
      return { bytes: concat(b.subarray(0, at), b.subarray(Math.min(n, at + len))), what: `${len} bytes deleted at ${at}` };
    }
    case 6: {
      const times = rng.int(2, 4);
      return { bytes: concat(...Array.from({ length: times }, () => b)), what: `repeated ${times} times` };
    }
    case 7: {
      // Length-prefixed encodings: a huge or off-by-one length in the first 4 bytes.
      const out = n >= 4 ? b.slice() : concat(b, new Uint8Array(4 - n));
      const cur = new DataView(out.buffer).getUint32(0);
      const v = rng.pick([0, 1, cur - 1, cur + 1, cur * 2, 0x7fff_ffff, 0xffff_ffff, 16 * 1024 * 1024 + 4097, 64 << 20].map((x) => x >>> 0));
      new DataView(out.buffer).setUint32(0, v);
      return { bytes: out, what: `length prefix ${cur} → ${v}` };
    }
    case 8: {
      if (n < 2) return { bytes: concat(b, b), what: 'doubled' };
      const a = pos();
      const c = pos();
      const out = b.slice();
      out[a] = b[c]!;
      out[c] = b[a]!;
      return { bytes: out, what: `bytes ${a} and ${c} swapped` };
    }
    default: {
      const f = rng.pick(fields);
      const out = b.slice();
      const v = edgeFor(rng, f.size);
      writeUint(out, f.off, f.size, v);
      return { bytes: out, what: `${f.name} = ${v}` };
    }
  }
}

/** 1 to 4 mutations in a row. */
export function mutateBytesMany(rng: Prng, b: Uint8Array, fields: readonly Field[] = []): { bytes: Uint8Array; what: string } {
  let bytes = b;
  const what: string[] = [];
  const times = rng.chance(0.6) ? 1 : rng.int(2, 4);
  for (let i = 0; i < times; i++) {
    // Past every body limit of the services already: more would only cost the fuzzer.
    if (bytes.length > 2 << 20) break;
    // Fields are at offsets of the original: only the first mutation may use them.
    const r = mutateBytes(rng, bytes, i === 0 ? fields : []);
    bytes = r.bytes;
    what.push(r.what);
  }
  return { bytes, what: what.join('; ') };
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Strings that break parsers and paths: huge, traversal, control characters, odd numbers as text. */
export function oddString(rng: Prng): string {
  const picks: (() => string)[] = [
    () => '',
    () => 'x'.repeat(rng.pick([33, 1025, 70_000, 300_000])),
    () => '../../../../etc/passwd',
    () => '/etc/passwd',
    () => '..',
    () => '\u0000',
    () => '\ud800',
    () => '😀'.repeat(rng.int(1, 40)),
    () => '-1',
    () => '18446744073709551616',
    () => '18446744073709551615',
    () => '9223372036854775808',
    () => '1e3',
    () => '0x10',
    () => ' 1',
    () => '00000000000000000000000000000000',
    () => 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
    () => 'http://127.0.0.1:1/',
    () => 'file:///etc/passwd',
    () => 'NaN',
    () => '2026-13-45T99:99:99Z',
    () => '__proto__',
  ];
  return rng.pick(picks)();
}

function oddNumber(rng: Prng): number {
  return rng.pick([-1, -0, 0, 1, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
}

/** A JSON value of the wrong type for `v` (never the same type). */
function wrongType(rng: Prng, v: Json): Json {
  const options: Json[] = [null, true, rng.int(-5, 5), oddString(rng), [], {}, [v], { v }];
  const typeOf = (x: Json) => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);
  const others = options.filter((o) => typeOf(o) !== typeOf(v));
  return rng.pick(others);
}

function oddValue(rng: Prng, v: Json): Json {
  if (typeof v === 'number') return oddNumber(rng);
  if (typeof v === 'string') return rng.chance(0.5) ? oddString(rng) : String(rng.pick(U64_EDGES)) + rng.pick(['', '0', ' ']);
  if (typeof v === 'boolean') return !v;
  // Long arrays are of small scalars: the body stays within limits the fuzzer means to test (64 KiB JSON).
  if (Array.isArray(v)) return rng.pick<Json>([[], Array.from({ length: rng.pick([65, 1000, 20_000]) }, () => rng.int(0, 9)), [...v, ...v], v.map((x) => oddValue(rng, x))]);
  return wrongType(rng, v);
}

/** Values a mutation chooses among: enough for any valid body, bounded for a mutated one. */
const PATHS_MAX = 512;

/** Paths to the values inside `v` (the first PATHS_MAX, depth first): [] is `v` itself. */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (out.length >= PATHS_MAX) return out;
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function clone(v: Json): Json {
  return v === null || typeof v !== 'object' ? v : (JSON.parse(JSON.stringify(v)) as Json);
}

function update(root: Json, at: readonly (string | number)[], fn: (v: Json, parent: Json[] | { [k: string]: Json } | null, key: string | number | null) => Json | undefined): Json {
  if (at.length === 0) return fn(root, null, null) ?? null;
  const r = clone(root);
  let cur: Json = r;
  for (let i = 0; i < at.length - 1; i++) cur = (cur as Record<string | number, Json>)[at[i]!] as Json;
  const parent = cur as Json[] | { [k: string]: Json };
  const key = at[at.length - 1]!;
  const next = fn((parent as Record<string | number, Json>)[key] as Json, parent, key);
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[String(key)];
  } else (parent as Record<string | number, Json>)[key] = next;
  return r;
}

export interface JsonMutation {
  readonly value: Json;
  readonly what: string;
}

/** One mutation of a JSON value: a wrong type, an odd value, a field removed or added, or the whole replaced. */
export function mutateJson(rng: Prng, v: Json): JsonMutation {
  const all = paths(v);
  const at = rng.pick(all);
  const where = at.length === 0 ? '(body)' : at.join('.');
  switch (rng.int(0, 5)) {
    case 0:
      return { value: update(v, at, (x) => wrongType(rng, x)), what: `${where}: wrong type` };
    case 1:
      return { value: update(v, at, (x) => oddValue(rng, x)), what: `${where}: odd value` };
    case 2:
      if (at.length === 0) return { value: rng.pick<Json>([null, [], 'x', 0, true]), what: 'body replaced' };
      return { value: update(v, at, () => undefined), what: `${where}: removed` };
    case 3: {
      // Strict schemas refuse an unknown key; "__proto__" as an own JSON key tests prototype pollution as well.
      const key = rng.pick(['extra', '__proto__', 'constructor', 'x'.repeat(300), '']);
      const objects = all.filter((p) => {
        let cur: Json = v;
        for (const k of p) cur = (cur as Record<string | number, Json>)[k] as Json;
        return cur !== null && typeof cur === 'object' && !Array.isArray(cur);
      });
      if (objects.length === 0) return { value: { value: v, [key]: 1 }, what: 'wrapped' };
      const o = rng.pick(objects);
      return { value: update(v, o, (x) => ({ ...(x as { [k: string]: Json }), [key]: rng.pick<Json>([1, 'x', null, { a: 1 }]) })), what: `${o.join('.') || '(body)'}: extra field ${key.slice(0, 20)}` };
    }
    case 4:
      return { value: update(v, at, () => rng.pick<Json>([oddString(rng), oddNumber(rng), null])), what: `${where}: replaced` };
    default: {
      // Deep nesting: parsers that recurse.
      let deep: Json = 1;
      // Kept shallow enough for the fuzzer's own JSON.stringify; deeper text comes from routes.ts.
      for (let i = 0, n = rng.pick([10, 100, 500]); i < n; i++) deep = [deep];
      return { value: update(v, at, () => deep), what: `${where}: deeply nested` };
    }
  }
}

export function mutateJsonMany(rng: Prng, v: Json): JsonMutation {
  let value = v;
  const what: string[] = [];
  const times = rng.chance(0.6) ? 1 : rng.int(2, 3);
  for (let i = 0; i < times; i++) {
    // A body already past the JSON limit (64 KiB) gets no further mutations: they would only grow it.
    if (i > 0 && JSON.stringify(value).length > 100_000) break;
    const m = mutateJson(rng, value);
    value = m.value;
    what.push(m.what);
  }
  return { value, what: what.join('; ') };
}

/** A path segment that is not a valid id: traversal, wrong case or length, encoded separators, huge. */
export function oddSegment(rng: Prng, valid: string): string {
  return rng.pick([
    () => '..',
    () => '%2e%2e',
    () => '..%2f..%2f..%2fetc%2fpasswd',
    () => '%2F',
    () => valid.toUpperCase(),
    () => valid.slice(1),
    () => `${valid}0`,
    () => `${valid.slice(0, 31)}g`,
    () => 'x'.repeat(rng.pick([1, 64, 4096, 60_000])),
    () => '%00',
    () => '%ff%fe',
    () => encodeURIComponent('😀'),
    () => '-1',
    () => '18446744073709551616',
    () => '%20',
    () => '.',
  ])();
}

/** A random valid-looking hex id (32 lowercase hex digits) that names nothing. */
export function hexId(rng: Prng): string {
  let s = '';
  while (s.length < 32) s += rng.nextU32().toString(16).padStart(8, '0');
  return s.slice(0, 32);
}
