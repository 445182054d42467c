import { describe, expect, it } from 'vitest';
import { authHeaders, bearerAuthorization } from './auth-headers.js';

describe('the bearer header, defined once', () => {
  it('is the token after "Bearer ", or nothing without a token', () => {
    expect(bearerAuthorization('t0k')).toBe('Bearer t0k');
    expect(bearerAuthorization(undefined)).toBeUndefined();
    expect(bearerAuthorization('')).toBeUndefined();
  });

  it('as headers: the same value under authorization, or no header', () => {
    expect(authHeaders('t0k')).toEqual({ authorization: bearerAuthorization('t0k') });
    expect(authHeaders(undefined)).toEqual({});
    expect(authHeaders('')).toEqual({});
  });
});
