import { describe, expect, it } from 'vitest';
import { CorruptRedo } from '../errors.js';
import { crc32c } from './crc32c.js';
import { frameMtr, parseMtrRecords } from './mtr.js';

/** Frame record bytes as an mtr: end byte 1, then CRC-32C of the records. */
function mtr(...records: number[][]): Uint8Array {
  const body = records.flat();
  const out = new Uint8Array(body.length + 5);
  out.set(body);
  out[body.length] = 1;
  const c = crc32c(out, 0, body.length);
  out[body.length + 1] = c >>> 24;
  out[body.length + 2] = (c >>> 16) & 0xff;
  out[body.length + 3] = (c >>> 8) & 0xff;
  out[body.length + 4] = c & 0xff;
  return out;
}

/** One record: type byte (high nibble incl. same_page flag) + payload, short or long length form. */
function rec(type: number, payload: number[]): number[] {
  if (payload.length >= 1 && payload.length <= 15) return [type | payload.length, ...payload];
  return [type, payload.length + 1 - 15, ...payload];
}

const parse = (m: Uint8Array) => parseMtrRecords(m, 1000n, { pageSize: 16384 });
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe('mtr framing', () => {
  it('frames a valid mtr and reports its length', () => {
    const m = mtr([0x12, 0x00, 0x05]);
    expect(frameMtr(m, 0, m.length)).toEqual({ status: 'ok', length: m.length });
  });
  it('asks for more bytes while the mtr is a valid prefix', () => {
    const m = mtr([0x12, 0x00, 0x05]);
    expect(frameMtr(m, 0, m.length - 1).status).toBe('incomplete');
  });
  it('ends the log on a CRC mismatch', () => {
    const m = mtr([0x12, 0x00, 0x05]);
    m[1] = 1;
    expect(frameMtr(m, 0, m.length)).toMatchObject({ status: 'end', reason: 'CRC-32C mismatch' });
  });
  it('ends the log where the sequence bit is the previous pass', () => {
    const m = mtr([0x12, 0x00, 0x05]);
    expect(frameMtr(m, 0, m.length, () => 0)).toMatchObject({ status: 'end', reason: 'sequence bit mismatch' });
  });
});

describe('record parsing rules', () => {
  it('resolves same_page offsets against the running cursor', () => {
    // WRITE 0:5 at 100 (2 bytes), then same_page WRITE at cursor+3 (1 byte), then MEMSET at cursor+0.
    const recs = parse(mtr([0x35, 0x00, 0x05, 100, 0xaa, 0xbb], [0xb2, 0x03, 0xcc], [0xc3, 0x00, 0x04, 0xee]));
    expect(recs).toMatchObject([
      { type: 'WRITE', spaceId: 0, pageNo: 5, offset: 100 },
      { type: 'WRITE', offset: 105 },
      { type: 'MEMSET', offset: 106, length: 4 },
    ]);
  });
  it('decodes long records whose length needs extra bytes', () => {
    const data = new Array(40).fill(7);
    // 0x30 | len 0 → long form: A + 15 bytes follow, counting the length byte.
    const body = [0x00, 0x05, 100, ...data];
    const recs = parse(mtr([0x30, body.length - 15 + 1, ...body]));
    expect(recs[0]).toMatchObject({ type: 'WRITE', offset: 100 });
    expect((recs[0] as { data: Uint8Array }).data.length).toBe(40);
  });
  it('rejects the RESERVED record type with CorruptRedo', () => {
    expect(() => parse(mtr([0x63, 0x00, 0x05, 0x01]))).toThrow(CorruptRedo);
  });
  it('rejects FREE_PAGE or INIT_PAGE with the same_page flag', () => {
    expect(() => parse(mtr([0x35, 0x00, 0x05, 100, 0xaa, 0xbb], [0x81, 0x00]))).toThrow(/same_page/);
  });
  it('rejects a same_page WRITE after FREE_PAGE', () => {
    expect(() => parse(mtr([0x02, 0x00, 0x05], [0x32, 0x40, 0xaa]))).toThrow(CorruptRedo);
  });
  it('rejects writes that overrun the page', () => {
    // offset 16383 (varint c0 3f 7f ... ) + 2 bytes > 16384
    expect(() => parse(mtr([0x36, 0x00, 0x05, 0xbf, 0x7f, 0xaa, 0xbb]))).toThrow(/overruns|out of range/);
  });
  it('rejects targets below byte 8 of the page', () => {
    expect(() => parse(mtr([0x34, 0x00, 0x05, 4, 0xaa]))).toThrow(/out of range/);
  });
  it('parses MEMMOVE sources relative to the target', () => {
    const recs = parse(mtr([0x55, 0x00, 0x05, 100, 6, 0x0b]));
    expect(recs[0]).toMatchObject({ type: 'MEMMOVE', offset: 100, length: 6, source: 94 });
  });
  it('parses the FILE_* records with their paths', () => {
    const recs = parse(mtr(rec(0x80, [0x07, 0x00, ...ascii('./db/t1.ibd')])));
    expect(recs[0]).toEqual({ type: 'FILE_CREATE', spaceId: 7, path: './db/t1.ibd' });
    const rename = [0x07, 0x00, ...ascii('./db/t1.ibd'), 0, ...ascii('./db/t2.ibd')];
    expect(parse(mtr(rec(0xa0, rename)))[0]).toEqual({
      type: 'FILE_RENAME',
      spaceId: 7,
      path: './db/t1.ibd',
      newPath: './db/t2.ibd',
    });
  });
  it('rejects a FILE_DELETE of the system tablespace or of a non-.ibd name', () => {
    const sys = [0x00, 0x00, ...ascii('./ibdata1.ibd')];
    expect(() => parse(mtr(rec(0x90, sys)))).toThrow(/system tablespace/);
    const bad = [0x07, 0x00, ...ascii('./db/t1.frm')];
    expect(() => parse(mtr(rec(0x90, bad)))).toThrow(/\.ibd/);
  });
  it('rejects a FILE_CHECKPOINT that is not last in its mtr', () => {
    const cp = [0xfa, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x30, 0x00];
    expect(() => parse(mtr(cp, [0x12, 0x00, 0x05]))).toThrow(/last record/);
  });
});
