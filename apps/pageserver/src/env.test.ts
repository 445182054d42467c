import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './env.js';

describe('page server configuration', () => {
  it('reads the CLI contract flags, resolving paths against the working directory', () => {
    const c = loadConfig(['--listen', '127.0.0.1:9000', '--data', 'ps', '--safekeepers', '127.0.0.1:1,127.0.0.1:2, http://h:3/'], {}, '/work');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(c.dataDir).toBe('/work/ps');
    expect(c.safekeepers).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://h:3']);
    expect(c.remoteStorageUrl).toBeUndefined();
  });

  it('falls back to the environment, flags first', () => {
    const env = { PAGESERVER_DATA_DIR: '/d', PAGESERVER_SAFEKEEPERS: 'a:1', PAGESERVER_CHECKPOINT_BYTES: '1048576' };
    const c = loadConfig(['--data', '/flag'], env, '/');
    expect(c.dataDir).toBe('/flag');
    expect(c.safekeepers).toEqual(['http://a:1']);
    expect(c.checkpointBytes).toBe(1 << 20);
    expect(c.awsRegion).toBeUndefined();
  });

  it('reads AWS_REGION for remote storage URLs that name no region (remote-storage itself reads no environment)', () => {
    const base = ['--data', '/d', '--safekeepers', 'a:1'];
    expect(loadConfig(base, { AWS_REGION: 'eu-west-3' }, '/').awsRegion).toBe('eu-west-3');
    expect(loadConfig(base, { AWS_REGION: '' }, '/').awsRegion).toBeUndefined();
  });

  it('names the flag and its variable in every error', () => {
    expect(() => loadConfig(['--data', '/d', '--safekeepers', 'nope'], {}, '/')).toThrow(/--safekeepers \(PAGESERVER_SAFEKEEPERS\): "nope" is not HOST:PORT/);
    expect(() => loadConfig(['--data', '/d', '--safekeepers', 'a:1', '--listen', 'x'], {}, '/')).toThrow(/--listen/);
    expect(() => loadConfig(['--data', '/d', '--safekeepers', 'a:1', '--remote-storage', 'ftp://x'], {}, '/')).toThrow(ConfigError);
    expect(() => loadConfig(['--bogus', '1'], {}, '/')).toThrow(ConfigError);
    expect(() => loadConfig(['--safekeepers', 'a:1'], {}, '/')).toThrow(/--data/);
  });
});
