/**
 * The page server commands of `strata`: tenant import, wait-lsn, page get,
 * basebackup, branch create. Argument shapes of the CLI over the one page
 * server client of @strata/client (its errors keep the page server's code,
 * and the CLI prints `strata: CODE: message`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as client from '@strata/client';
import { StrataError } from '@strata/core';
import { getPageStatusName, GetPageStatus } from '@strata/core/getpage';

export type { BasebackupProgress } from '@strata/client';

/** A page server command that could not do what was asked though the page server answered (a page not found, say). */
export class PageserverCommandError extends StrataError {
  readonly code = 'PAGESERVER_COMMAND_FAILED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'PageserverCommandError';
  }
}

export interface PageserverTarget {
  /** `H:P`, `[v6]:P` or a URL. */
  readonly pageserver: string;
  readonly token?: string | undefined;
}

function target(t: PageserverTarget): client.PageserverTarget {
  return { url: client.pageserverUrl(t.pageserver), token: t.token };
}

export function tenantImport(args: PageserverTarget & { datadir: string; tenantId?: string | undefined; cwd: string }) {
  return client.tenantImport(target(args), resolve(args.cwd, args.datadir), args.tenantId);
}

/** Waits in slices (each one request) until the LSN is ingested or `timeoutMs` passes. */
export function waitLsn(args: PageserverTarget & { tenantId: string; timelineId: string; lsn: bigint; timeoutMs: number }): Promise<bigint> {
  return client.waitLsn(target(args), args.tenantId, args.timelineId, args.lsn, args.timeoutMs);
}

export async function pageGet(args: PageserverTarget & { tenantId: string; timelineId: string; spaceId: number; pageNo: number; lsn: bigint; out: string; waitMs?: number }) {
  const item = await client.getPage(target(args), args.tenantId, args.timelineId, { spaceId: args.spaceId, pageNo: args.pageNo, lsn: args.lsn }, args.waitMs);
  if (item.status !== GetPageStatus.OK) {
    const extra = item.status === GetPageStatus.NOT_YET_AVAILABLE ? ` (ingested up to ${item.lsn})` : '';
    throw new PageserverCommandError(`page ${args.spaceId}:${args.pageNo} at LSN ${args.lsn}: ${getPageStatusName(item.status)}${extra}`);
  }
  mkdirSync(dirname(resolve(args.out)), { recursive: true });
  writeFileSync(args.out, item.page);
  return { pageLsn: item.lsn, bytes: item.page.length };
}

/** Unpacks the basebackup into `out` (missing or empty), which never holds half a datadir. */
export function basebackup(args: PageserverTarget & { tenantId: string; timelineId: string; lsn?: bigint | undefined; out: string; waitMs?: number; onProgress?: (p: client.BasebackupProgress) => void }) {
  return client.basebackup(target(args), args.tenantId, args.timelineId, resolve(args.out), { lsn: args.lsn, waitMs: args.waitMs, onProgress: args.onProgress });
}

/** The last LSN of a timeline committed at or before `at` (the page server's LSN ↔ time map). */
export function lsnByTimestamp(args: PageserverTarget & { tenantId: string; timelineId: string; at: Date }): Promise<bigint> {
  return client.lsnByTimestamp(target(args), args.tenantId, args.timelineId, args.at);
}

export function branchCreate(args: PageserverTarget & { tenantId: string; fromTimelineId: string; lsn: bigint; newTimelineId?: string | undefined }) {
  return client.branchCreate(target(args), args.tenantId, args.fromTimelineId, args.lsn, args.newTimelineId);
}
