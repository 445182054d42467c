/**
 * Start a private mariadbd and time it: the wall time from spawn until root can connect, and
 * when each line of its error log appeared. mariadbd stamps its log with whole seconds only, so
 * the log is polled while the server starts and every line gets its arrival time.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { startMariadb, type MariadbServer, type StartOptions } from '../../test/support/mariadb.js';

const POLL_INTERVAL_MS = 20;
const READ_CHUNK_BYTES = 64 * 1024;

export interface LogLine {
  /** Milliseconds since the start was asked for. */
  readonly atMs: number;
  readonly text: string;
}

export interface TimedStart {
  readonly server: MariadbServer;
  /** From calling startMariadb (free port, spawn) until a connection succeeded. */
  readonly wallMs: number;
  /** This start's error log lines with their arrival times. */
  readonly lines: readonly LogLine[];
}

/** Follows a growing file from its current end; `poll()` turns new bytes into timed lines. */
class LogFollower {
  private offset: number;
  private partial = '';
  readonly lines: LogLine[] = [];

  constructor(
    private readonly file: string,
    private readonly t0: number,
  ) {
    this.offset = existsSync(file) ? fileSize(file) : 0;
  }

  poll(): void {
    if (!existsSync(this.file)) return;
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(READ_CHUNK_BYTES);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        this.take(buf.toString('utf8', 0, n));
      }
    } finally {
      closeSync(fd);
    }
  }

  private take(text: string): void {
    const atMs = performance.now() - this.t0;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') this.lines.push({ atMs, text: line });
  }
}

function fileSize(file: string): number {
  const fd = openSync(file, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

/** `startMariadb` with `opts.errorLogPath` followed while it starts. */
export async function timedStart(datadir: string, opts: StartOptions & { errorLogPath: string }): Promise<TimedStart> {
  const t0 = performance.now();
  const follower = new LogFollower(opts.errorLogPath, t0);
  const timer = setInterval(() => follower.poll(), POLL_INTERVAL_MS);
  try {
    const server = await startMariadb(datadir, opts);
    const wallMs = performance.now() - t0;
    follower.poll();
    return { server, wallMs, lines: follower.lines };
  } finally {
    clearInterval(timer);
  }
}

/** The first line matching `re`, with its match. */
export function findLine(lines: readonly LogLine[], re: RegExp): { line: LogLine; match: RegExpExecArray } | undefined {
  for (const line of lines) {
    const match = re.exec(line.text);
    if (match !== null) return { line, match };
  }
  return undefined;
}
