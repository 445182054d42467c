/**
 * GetPage wire format (binary, big-endian), batch is the normal case.
 *
 * Request body: N × 16 bytes: u32 space id, u32 page number, u64 LSN.
 * Response body, for each request in order:
 *   u8 status, u64 LSN, then the page (pageSize bytes) when status is OK.
 *   The LSN is the page's FIL_PAGE_LSN for OK, the last ingested LSN for
 *   NOT_YET_AVAILABLE, 0 otherwise. The page size is in the
 *   `x-strata-page-size` response header.
 */
import { assert } from '../assert.js';
import { CorruptFrame } from '../errors.js';

export const GETPAGE_REQUEST_BYTES = 16;
export const GETPAGE_ITEM_HEAD_BYTES = 9;

export const GetPageStatus = {
  OK: 0,
  NOT_FOUND: 1,
  NOT_YET_AVAILABLE: 2,
  /** Before the start of the timeline (and of its ancestors). */
  LSN_OUT_OF_RANGE: 3,
  /** Anything else (a corrupt layer, an unsupported page): the page server logged it. */
  ERROR: 4,
  /** Below the timeline's GC horizon: only branch points and snapshots stay readable there (retrying does not help). */
  BEFORE_GC_HORIZON: 5,
} as const;
/** One past the highest status. */
export const GETPAGE_STATUS_COUNT = 6;
export type GetPageStatus = (typeof GetPageStatus)[keyof typeof GetPageStatus];

export interface GetPageRequest {
  readonly spaceId: number;
  readonly pageNo: number;
  readonly lsn: bigint;
}

export type GetPageItem =
  | { readonly status: typeof GetPageStatus.OK; readonly lsn: bigint; readonly page: Uint8Array }
  | { readonly status: Exclude<GetPageStatus, 0>; readonly lsn: bigint };

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

export function encodeGetPageRequests(reqs: readonly GetPageRequest[]): Uint8Array {
  const out = new Uint8Array(reqs.length * GETPAGE_REQUEST_BYTES);
  const v = new DataView(out.buffer);
  reqs.forEach((r, i) => {
    assert(Number.isInteger(r.spaceId) && r.spaceId >= 0 && r.spaceId <= U32_MAX, `space id ${r.spaceId}`);
    assert(Number.isInteger(r.pageNo) && r.pageNo >= 0 && r.pageNo <= U32_MAX, `page number ${r.pageNo}`);
    assert(r.lsn >= 0n && r.lsn <= U64_MAX, `LSN ${r.lsn}`);
    v.setUint32(i * 16, r.spaceId);
    v.setUint32(i * 16 + 4, r.pageNo);
    v.setBigUint64(i * 16 + 8, r.lsn);
  });
  return out;
}

export function decodeGetPageRequests(body: Uint8Array, maxCount: number): GetPageRequest[] {
  if (body.length === 0) throw new CorruptFrame('GetPage request is empty');
  if (body.length % GETPAGE_REQUEST_BYTES !== 0) throw new CorruptFrame(`GetPage request of ${body.length} bytes is not a multiple of ${GETPAGE_REQUEST_BYTES}`);
  const n = body.length / GETPAGE_REQUEST_BYTES;
  if (n > maxCount) throw new CorruptFrame(`GetPage batch of ${n} pages exceeds ${maxCount}`);
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: GetPageRequest[] = [];
  for (let i = 0; i < n; i++) out.push({ spaceId: v.getUint32(i * 16), pageNo: v.getUint32(i * 16 + 4), lsn: v.getBigUint64(i * 16 + 8) });
  return out;
}

export function encodeGetPageResponse(items: readonly GetPageItem[], pageSize: number): Uint8Array {
  let size = 0;
  for (const it of items) size += GETPAGE_ITEM_HEAD_BYTES + (it.status === GetPageStatus.OK ? pageSize : 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let o = 0;
  for (const it of items) {
    v.setUint8(o, it.status);
    v.setBigUint64(o + 1, it.lsn);
    o += GETPAGE_ITEM_HEAD_BYTES;
    if (it.status === GetPageStatus.OK) {
      assert(it.page.length === pageSize, `page of ${it.page.length} bytes, page size ${pageSize}`);
      out.set(it.page, o);
      o += pageSize;
    }
  }
  assert(o === size, 'GetPage response size');
  return out;
}

export function decodeGetPageResponse(body: Uint8Array, count: number, pageSize: number): GetPageItem[] {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: GetPageItem[] = [];
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (o + GETPAGE_ITEM_HEAD_BYTES > body.length) throw new CorruptFrame(`GetPage response ends in item ${i} of ${count}`);
    const status = v.getUint8(o);
    const lsn = v.getBigUint64(o + 1);
    o += GETPAGE_ITEM_HEAD_BYTES;
    if (status === GetPageStatus.OK) {
      if (o + pageSize > body.length) throw new CorruptFrame(`GetPage response ends in page ${i} of ${count}`);
      out.push({ status, lsn, page: body.subarray(o, o + pageSize) });
      o += pageSize;
    } else if (status < GETPAGE_STATUS_COUNT) {
      out.push({ status: status as Exclude<GetPageStatus, 0>, lsn });
    } else {
      throw new CorruptFrame(`GetPage response item ${i}: unknown status ${status}`);
    }
  }
  if (o !== body.length) throw new CorruptFrame(`GetPage response has ${body.length - o} bytes after ${count} items`);
  return out;
}

export function getPageStatusName(s: GetPageStatus): string {
  return Object.entries(GetPageStatus).find(([, v]) => v === s)?.[0] ?? `status ${s}`;
}
