/**
 * Sign-in throttling, per username and per client address. A key with
 * `failuresMax` failed sign-ins inside `windowMs` is refused — even with the
 * right password — until the oldest of those failures leaves the window.
 * Per user, it stops guessing one operator's password from many places; per
 * address, it stops one place from trying a password on many operators.
 *
 * Held in the console process (one process serves the console). Both maps
 * are bounded: past `keysMax`, expired keys go first, then the oldest.
 */
import { ConsoleError } from './errors';

export interface SignInLimits {
  failuresMax: number;
  windowMs: number;
  keysMax: number;
}

export const USER_LIMITS: SignInLimits = { failuresMax: 5, windowMs: 15 * 60_000, keysMax: 10_000 };
export const ADDRESS_LIMITS: SignInLimits = { failuresMax: 20, windowMs: 15 * 60_000, keysMax: 10_000 };

/** Failure times of each key (at most `failuresMax` of them, oldest first). */
class FailureLog {
  private readonly byKey = new Map<string, number[]>();

  constructor(readonly limits: SignInLimits) {}

  private recent(key: string, nowMs: number): number[] {
    const times = (this.byKey.get(key) ?? []).filter((t) => nowMs - t < this.limits.windowMs);
    if (times.length === 0) this.byKey.delete(key);
    return times;
  }

  /** Ms until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string, nowMs: number): number {
    const times = this.recent(key, nowMs);
    if (times.length < this.limits.failuresMax) return 0;
    return times[0]! + this.limits.windowMs - nowMs;
  }

  fail(key: string, nowMs: number): void {
    const times = this.recent(key, nowMs);
    times.push(nowMs);
    // Only the last failuresMax matter: the lock lasts until the oldest of them expires.
    this.byKey.delete(key);
    this.byKey.set(key, times.slice(-this.limits.failuresMax));
    this.bound(nowMs);
  }

  clear(key: string): void {
    this.byKey.delete(key);
  }

  private bound(nowMs: number): void {
    if (this.byKey.size <= this.limits.keysMax) return;
    for (const key of [...this.byKey.keys()]) if (this.recent(key, nowMs).length === 0) this.byKey.delete(key);
    // Map order is insertion order, and fail() re-inserts: the first keys are the least recently failed.
    for (const key of this.byKey.keys()) {
      if (this.byKey.size <= this.limits.keysMax) break;
      this.byKey.delete(key);
    }
  }
}

export interface SignInAttempt {
  username: string;
  /** The client's address; null when unknown (a caller inside the process). */
  address: string | null;
}

export class SignInLimiter {
  private readonly users: FailureLog;
  private readonly addresses: FailureLog;

  constructor(
    private readonly now: () => Date,
    limits: { user?: SignInLimits; address?: SignInLimits } = {},
  ) {
    this.users = new FailureLog(limits.user ?? USER_LIMITS);
    this.addresses = new FailureLog(limits.address ?? ADDRESS_LIMITS);
  }

  /** Throws RATE_LIMITED while the user or the address is locked out; checked before the password is. */
  check(a: SignInAttempt): void {
    const nowMs = this.now().getTime();
    const user = this.users.retryAfterMs(userKey(a.username), nowMs);
    const address = a.address === null ? 0 : this.addresses.retryAfterMs(a.address, nowMs);
    const waitMs = Math.max(user, address);
    if (waitMs > 0) {
      const who = user >= address ? `user ${a.username}` : `address ${a.address ?? ''}`;
      throw new ConsoleError('RATE_LIMITED', `too many failed sign-ins for ${who}: try again in ${Math.ceil(waitMs / 1000)} s`);
    }
  }

  failed(a: SignInAttempt): void {
    const nowMs = this.now().getTime();
    this.users.fail(userKey(a.username), nowMs);
    if (a.address !== null) this.addresses.fail(a.address, nowMs);
  }

  /**
   * A right password clears the user's count, not the address's: otherwise
   * one valid account would let its holder reset their address between
   * guesses at other accounts.
   */
  succeeded(a: SignInAttempt): void {
    this.users.clear(userKey(a.username));
  }
}

// Usernames are lowercase by rule; a differently cased guess counts against the same user.
const userKey = (username: string) => username.toLowerCase();
