/**
 * `strata wal read`: fetch the committed redo bytes of an LSN range from one safekeeper.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { authHeaders, parseHostPorts } from './safekeeper-endpoints.js';

export interface WalReadArgs {
  readonly safekeeper: string;
  readonly tenantId: string;
  readonly timelineId: string;
  readonly fromLsn: bigint;
  readonly toLsn?: bigint;
  readonly outPath: string;
  readonly token?: string;
}

export class WalReadError extends Error {}

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
      const res = await fetch(url + q, { headers: authHeaders(args.token), signal: AbortSignal.timeout(60_000) });
      if (!res.ok) throw new WalReadError(`${base}: HTTP ${res.status}: ${await res.text()}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const end = BigInt(res.headers.get('x-strata-end-lsn') ?? '0');
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
