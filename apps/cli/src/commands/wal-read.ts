/**
 * `strata wal read`: fetch the committed redo bytes of an LSN range from one safekeeper.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ACCEPT_ZSTD, walReplyBytes } from '@strata/client';
import { ZstdError } from '@strata/zstd';
import { authHeaders, parseHostPorts } from './safekeeper-endpoints.js';
import { assert, StrataError } from '@strata/core';
import { lsnString } from '@strata/core/json';

/** Larger than any one answer of a safekeeper (16 MiB by default). */
const WAL_READ_BYTES_MAX = 1n << 30n;

export interface WalReadArgs {
  readonly safekeeper: string;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly fromLsn: bigint;
  readonly toLsn?: bigint;
  readonly outPath: string;
  readonly token?: string;
}

export class WalReadError extends StrataError {
  readonly code = 'WAL_READ_FAILED' as const;
  override readonly name = 'WalReadError';
}

/** An LSN header of a safekeeper's reply, checked as every LSN is (decimal, below 2^64). */
export function lsnHeader(headers: Headers, name: string, base: string): bigint {
  const v = headers.get(name);
  if (v === null) throw new WalReadError(`${base}: answered without an ${name} header`);
  const r = lsnString.safeParse(v);
  if (!r.success) throw new WalReadError(`${base}: answered ${name}: ${JSON.stringify(v.slice(0, 40))}, not an LSN (${r.error.issues.map((i) => i.message).join('; ')})`);
  return r.data;
}

/** Returns the end LSN written (exclusive). Without `toLsn`, reads up to the commit LSN seen at the start. */
export async function walRead(args: WalReadArgs): Promise<bigint> {
  const [base] = parseHostPorts(args.safekeeper, '--safekeeper');
  assert(base !== undefined, 'parseHostPorts returns at least one address');
  const url = `${base}/v1/tenants/${args.tenantId}/timelines/${args.timelineId}/wal`;
  const fd = openSync(args.outPath, 'w');
  try {
    let at = args.fromLsn;
    let target = args.toLsn;
    for (;;) {
      if (target !== undefined && at >= target) return at;
      const q = `?from=${at}${target !== undefined ? `&to=${target}` : ''}`;
      // Redo compresses well and a read is up to 16 MiB: ask for zstd.
      const res = await fetch(url + q, { headers: { ...authHeaders(args.token), ...ACCEPT_ZSTD }, signal: AbortSignal.timeout(60_000) });
      if (!res.ok) throw new WalReadError(`${base}: HTTP ${res.status}: ${await res.text()}`);
      let end: bigint;
      let commit: bigint;
      try {
        end = lsnHeader(res.headers, 'x-strata-end-lsn', base);
        commit = lsnHeader(res.headers, 'x-strata-commit-lsn', base);
      } catch (e) {
        await res.body?.cancel();
        throw e;
      }
      if (end < at || end - at > WAL_READ_BYTES_MAX) throw new WalReadError(`${base}: answered the range ${at}..${end}`);
      let bytes: Uint8Array;
      try {
        bytes = await walReplyBytes(res, Number(end - at));
      } catch (e) {
        if (e instanceof ZstdError) throw new WalReadError(`${base}: ${e.message}`);
        throw e;
      }
      target ??= commit;
      if (bytes.length > 0) writeSync(fd, bytes);
      if (end !== at + BigInt(bytes.length)) throw new WalReadError(`${base}: answered ${bytes.length} bytes for ${at}..${end}`);
      if (bytes.length === 0) {
        if (target !== undefined && at < target) throw new WalReadError(`${base} has committed WAL only up to ${commit}, not ${target}`);
        return at;
      }
      at = end;
    }
  } finally {
    closeSync(fd);
  }
}
