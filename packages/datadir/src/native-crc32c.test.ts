import { redo } from '@strata/core';
import { afterEach, describe, expect, it } from 'vitest';
import { installNativeCrc32c } from './native-crc32c.js';

describe('native CRC-32C', () => {
  afterEach(() => redo.useCrc32cAccelerator(undefined));

  it('is installed on this platform and agrees with the pure code at every length, offset and start value', () => {
    const bytes = new Uint8Array(70_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const cases: [number, number, number][] = [];
    for (const len of [0, 1, 7, 255, 256, 257, 1000, 16_384, 65_536]) for (const start of [0, 3, 4000]) cases.push([start, start + len, (len * 31 + start) >>> 0]);
    const pure = cases.map(([s, e, c]) => redo.crc32c(bytes, s, e, c));
    expect(installNativeCrc32c()).toBe(true);
    expect(redo.crc32cAccelerated()).toBe(true);
    expect(cases.map(([s, e, c]) => redo.crc32c(bytes, s, e, c))).toEqual(pure);
  });

  it('a wrong accelerator is refused', () => {
    expect(() => redo.useCrc32cAccelerator((b, c) => c + b.length)).toThrow(/disagrees/);
    expect(redo.crc32cAccelerated()).toBe(false);
  });
});
