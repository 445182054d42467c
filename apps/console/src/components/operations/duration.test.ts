import { describe, expect, it } from 'vitest';
import { duration } from './duration';

describe('an operation step took', () => {
  const t0 = '2026-03-01T12:00:00.000Z';
  it('ms, s, min', () => {
    expect(duration(t0, '2026-03-01T12:00:00.340Z')).toBe('340 ms');
    expect(duration(t0, '2026-03-01T12:00:01.250Z')).toBe('1.3 s');
    expect(duration(t0, '2026-03-01T12:02:05.000Z')).toBe('2 min 5 s');
  });
  it('a running step counts to now; one not started has no duration', () => {
    expect(duration(t0, null, Date.parse(t0) + 2_000)).toBe('2.0 s so far');
    expect(duration(null, null)).toBe('—');
  });
});
