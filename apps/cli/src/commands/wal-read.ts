/**
 * `strata wal read`: fetch the committed redo bytes of an LSN range from one safekeeper.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ACCEPT_ZSTD, walReplyBytes } from '@strata/client';
import { ZstdError } from '@strata/zstd';
import { authHeaders, parseHostPorts } from './safekeeper-endpoints.js';
import { StrataError } from '@strata/core';

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

/** Returns the end LSN written (exclusive). Without `toLsn`, reads up to the commit LSN seen at the start. */
export async function walRead(args: WalReadArgs): Promise<bigint> {
  const [base] = parseHostPorts(args.safekeeper, '--safekeeper');
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
      const end = BigInt(res.headers.get('x-strata-end-lsn') ?? '0');
      if (end < at || end - at > WAL_READ_BYTES_MAX) throw new WalReadError(`${base}: answered the range ${at}..${end}`);
      let bytes: Uint8Array;
      try {
        bytes = await walReplyBytes(res, Number(end - at));
      } catch (e) {
        if (e instanceof ZstdError) throw new WalReadError(`${base}: ${e.message}`);
        throw e;
      }
      const commit = BigInt(res.headers.get('x-strata-commit-lsn') ?? '0');
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
