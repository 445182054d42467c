/**
 * A safekeeper's disk in the simulation: an atomically replaced control
 * file, and a WAL whose writes become durable only at flush. A crash loses
 * everything not flushed. WAL is kept as one byte array from the timeline
 * start (sim logs are small).
 */
import { assert } from '../assert.js';
import type { AcceptorControl } from '../consensus/acceptor.js';
import type { Lsn } from '../consensus/types.js';

export class SimDisk {
  control: AcceptorControl;
  private durable: Uint8Array;
  private durableLen = 0;
  private pending: { offset: number; data: Uint8Array }[] = [];

  constructor(
    control: AcceptorControl,
    readonly startLsn: Lsn,
  ) {
    this.control = control;
    this.durable = new Uint8Array(256);
  }

  get flushLsn(): Lsn {
    return this.startLsn + BigInt(this.durableLen);
  }

  /** Bytes durably held, `[startLsn, flushLsn)`; do not mutate. */
  get bytes(): Uint8Array {
    return this.durable.subarray(0, this.durableLen);
  }

  writeWal(beginLsn: Lsn, data: Uint8Array): void {
    const offset = Number(beginLsn - this.startLsn);
    const end = this.pending.reduce((e, p) => Math.max(e, p.offset + p.data.length), this.durableLen);
    assert(offset === end, `WAL write at ${offset} leaves a hole after ${end}`);
    this.pending.push({ offset, data: data.slice() });
  }

  flushWal(): void {
    for (const p of this.pending) {
      const need = p.offset + p.data.length;
      if (need > this.durable.length) {
        const grown = new Uint8Array(Math.max(need, this.durable.length * 2));
        grown.set(this.durable.subarray(0, this.durableLen));
        this.durable = grown;
      }
      this.durable.set(p.data, p.offset);
      this.durableLen = need;
    }
    this.pending = [];
  }

  truncateWal(lsn: Lsn): void {
    const offset = Number(lsn - this.startLsn);
    assert(offset >= 0 && offset <= this.durableLen, `truncate at ${offset} outside WAL of ${this.durableLen}`);
    this.pending = [];
    this.durableLen = offset;
  }

  readWal(beginLsn: Lsn, endLsn: Lsn): Uint8Array {
    const b = Number(beginLsn - this.startLsn);
    const e = Number(endLsn - this.startLsn);
    assert(b >= 0 && e <= this.durableLen && b <= e, `read [${b}, ${e}) outside WAL of ${this.durableLen}`);
    return this.durable.slice(b, e);
  }

  persistControl(control: AcceptorControl): void {
    this.control = control;
  }

  crash(): void {
    this.pending = [];
  }

  /** A copy of what survives a crash (pull_timeline copies this). */
  clone(): SimDisk {
    const d = new SimDisk(this.control, this.startLsn);
    d.durable = this.durable.slice(0, Math.max(this.durableLen, 16));
    d.durableLen = this.durableLen;
    return d;
  }
}
