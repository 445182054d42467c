import { describe, expect, it } from 'vitest';
import { cliEnv } from './env.js';

describe('the CLI environment', () => {
  it('reads the variables strata knows; an empty token or database user is unset', () => {
    expect(cliEnv({ STRATA_HOME: '/h', STRATA_TOKEN: 'jwt', STRATA_DB_USER: 'u', STRATA_DB_PASSWORD: 'p', OTHER: 'x' })).toEqual({ home: '/h', token: 'jwt', dbUser: 'u', dbPassword: 'p' });
    expect(cliEnv({ STRATA_TOKEN: '', STRATA_DB_USER: '' })).toEqual({ home: undefined, token: undefined, dbUser: undefined, dbPassword: undefined });
  });
});
