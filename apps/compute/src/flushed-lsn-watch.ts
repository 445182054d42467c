/**
 * Innodb_lsn_flushed of the compute's own mariadbd, for the tailing
 * shipper's gate (basebackup mode). The shipper reads ib_logfile0 while
 * MariaDB writes it, and the block MariaDB is filling holds, past its end,
 * stale copies of earlier mtrs with valid CRCs: a read that races the write
 * can decode one of them as the next mtr. The torn-read check catches most;
 * one that races a writer descheduled in the middle of its copy reads the
 * same torn bytes twice and passes (seen under CPU contention). Bytes below
 * the flushed LSN were written completely before MariaDB fsynced them, so
 * shipping only up to it ships only what MariaDB meant.
 *
 * Asked only when the gate holds mtrs back, one query at a time. If the
 * server cannot be asked (the account's password was changed, the status
 * variable is gone), the gate opens, with one log line: the torn-read check
 * then guards the tail alone, as before.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { FlushedLsnGate } from './shipper.js';

/** Consecutive failed asks before the gate opens for good. */
const FAILURES_MAX = 5;

export class FlushedLsnWatch implements FlushedLsnGate {
  private value: bigint;
  private active = false;
  private opened = false;
  private failures = 0;
  private conn: Connection | undefined;
  private asking = false;
  private askAgain = false;
  private closed = false;
  private readonly listeners: Array<() => void> = [];

  /**
   * @param startLsn where the log starts for this compute: nothing past it is shipped before the server answers
   * @param connect a connection to the compute's mariadbd (opened on first use, again after an error)
   */
  constructor(
    startLsn: bigint,
    private readonly connect: () => Promise<Connection>,
    private readonly log: (line: string) => void,
  ) {
    this.value = startLsn;
  }

  current(): bigint | undefined {
    return this.opened ? undefined : this.value;
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** The server takes queries now: held mtrs are asked about from here on. */
  activate(): void {
    this.active = true;
    this.refresh();
  }

  refresh(): void {
    if (!this.active || this.opened || this.closed) return;
    if (this.asking) {
      this.askAgain = true;
      return;
    }
    this.asking = true;
    void this.ask().finally(() => {
      this.asking = false;
      if (this.askAgain) {
        this.askAgain = false;
        this.refresh();
      }
    });
  }

  /** mariadbd has exited: the log is final as it stands, so the gate opens (the final drain ships all of it). */
  release(): void {
    this.opened = true;
    this.close();
    for (const fn of this.listeners) fn();
  }

  close(): void {
    this.closed = true;
    void this.conn?.end().catch(() => undefined);
    this.conn = undefined;
  }

  private async ask(): Promise<void> {
    try {
      this.conn ??= await this.connect();
      const [rows] = await this.conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_flushed'");
      const raw = rows[0]?.['Value'];
      if (typeof raw !== 'string' || !/^\d{1,20}$/.test(raw)) throw new Error(`Innodb_lsn_flushed is ${JSON.stringify(raw)}`);
      this.failures = 0;
      const lsn = BigInt(raw);
      if (lsn > this.value) {
        this.value = lsn;
        for (const fn of this.listeners) fn();
      }
    } catch (e) {
      void this.conn?.end().catch(() => undefined);
      this.conn = undefined;
      if (this.closed) return;
      if (++this.failures >= FAILURES_MAX) {
        this.opened = true;
        this.log(`shipper: cannot read Innodb_lsn_flushed (${e instanceof Error ? e.message : String(e)}); the tail is guarded by the torn-read check alone from now on`);
        for (const fn of this.listeners) fn();
        return;
      }
      // Ask again shortly: a server busy with its start or a dropped connection is not a reason to open the gate.
      await new Promise((r) => setTimeout(r, 50 * this.failures));
      this.askAgain = true;
    }
  }
}
