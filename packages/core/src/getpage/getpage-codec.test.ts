import { describe, expect, it } from 'vitest';
import { CorruptFrame } from '../errors.js';
import { decodeGetPageRequests, decodeGetPageResponse, encodeGetPageRequests, encodeGetPageResponse, GetPageStatus, type GetPageItem } from './getpage-codec.js';

describe('GetPage wire format', () => {
  it('round-trips a batch of requests, big-endian', () => {
    const reqs = [
      { spaceId: 0, pageNo: 0, lsn: 0n },
      { spaceId: 0xffffffff, pageNo: 7, lsn: (1n << 64n) - 1n },
      { spaceId: 5, pageNo: 123456, lsn: 98765432109n },
    ];
    const b = encodeGetPageRequests(reqs);
    expect(b.length).toBe(48);
    expect([...b.subarray(16, 20)]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(decodeGetPageRequests(b, 10)).toEqual(reqs);
  });

  it('refuses empty, ragged and oversized request bodies', () => {
    expect(() => decodeGetPageRequests(new Uint8Array(0), 10)).toThrow(CorruptFrame);
    expect(() => decodeGetPageRequests(new Uint8Array(17), 10)).toThrow(CorruptFrame);
    expect(() => decodeGetPageRequests(new Uint8Array(16 * 11), 10)).toThrow(/exceeds 10/);
  });

  it('round-trips responses with pages only for OK items', () => {
    const page = new Uint8Array(1024).fill(9);
    const items: GetPageItem[] = [
      { status: GetPageStatus.OK, lsn: 42n, page },
      { status: GetPageStatus.NOT_FOUND, lsn: 0n },
      { status: GetPageStatus.NOT_YET_AVAILABLE, lsn: 1000n },
    ];
    const b = encodeGetPageResponse(items, 1024);
    expect(b.length).toBe(9 + 1024 + 9 + 9);
    expect(decodeGetPageResponse(b, 3, 1024)).toEqual(items);
    expect(() => decodeGetPageResponse(b.subarray(0, b.length - 1), 3, 1024)).toThrow(CorruptFrame);
    expect(() => decodeGetPageResponse(b, 2, 1024)).toThrow(/after 2 items/);
  });
});
