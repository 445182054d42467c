import { describe, expect, it } from 'vitest';
import { StrataError } from '@strata/core';
import { authHeaders, InvalidServiceAddress, pageserverUrl, serviceUrl } from './http.js';

describe('service addresses', () => {
  it.each([
    ['127.0.0.1:6400', 'http://127.0.0.1:6400'],
    ['pageserver.internal:6400', 'http://pageserver.internal:6400'],
    ['[::1]:6400', 'http://[::1]:6400'],
    ['[fd00::1:2]:80', 'http://[fd00::1:2]:80'],
    ['https://ps.example:443/', 'https://ps.example:443'],
    ['http://[::1]:6400', 'http://[::1]:6400'],
  ])('reads %s as %s', (address, url) => {
    expect(pageserverUrl(address)).toBe(url);
  });

  it.each(['6400', '::1:6400', 'host', 'host:port', '[::1]', 'a b:1', ''])('refuses %j with a typed error', (address) => {
    const e = (() => {
      try {
        return serviceUrl(address, 'safekeeper');
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(InvalidServiceAddress);
    expect(e).toBeInstanceOf(StrataError);
    expect(e).toMatchObject({ code: 'INVALID_SERVICE_ADDRESS', service: 'safekeeper' });
  });

  it('sends a bearer token only when there is one', () => {
    expect(authHeaders('t0k')).toEqual({ authorization: 'Bearer t0k' });
    expect(authHeaders(undefined)).toEqual({});
    expect(authHeaders('')).toEqual({});
  });
});
