import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidRemoteKey,
  InvalidRemoteStorageUrl,
  LocalFsStorage,
  openRemoteStorage,
  TEMP_MARKER,
  type RemoteStorage,
} from './index.js';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from './s3rver.test-util.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

interface Backend {
  name: string;
  open(): Promise<RemoteStorage>;
  teardown(): Promise<void>;
}

let fileRoot = '';
let s3: RunningS3rver | undefined;
const savedEnv = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };

const backends: Backend[] = [
  {
    name: 'file',
    async open() {
      fileRoot = await mkdtemp(join(tmpdir(), 'strata-remote-'));
      return openRemoteStorage(`file://${fileRoot}`);
    },
    async teardown() {
      await rm(fileRoot, { recursive: true, force: true });
    },
  },
  {
    name: 's3 (s3rver)',
    async open() {
      s3 = await startS3rver();
      // The real path: credentials come from the usual AWS environment variables.
      process.env['AWS_ACCESS_KEY_ID'] = S3RVER_CREDENTIALS.accessKeyId;
      process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_CREDENTIALS.secretAccessKey;
      return openRemoteStorage(`s3://${s3.bucket}/some/prefix?endpoint=${s3.endpoint}&region=us-east-1`);
    },
    async teardown() {
      await s3?.stop();
      if (savedEnv.id === undefined) delete process.env['AWS_ACCESS_KEY_ID'];
      else process.env['AWS_ACCESS_KEY_ID'] = savedEnv.id;
      if (savedEnv.secret === undefined) delete process.env['AWS_SECRET_ACCESS_KEY'];
      else process.env['AWS_SECRET_ACCESS_KEY'] = savedEnv.secret;
    },
  },
];

describe.each(backends)('RemoteStorage contract: $name', (backend) => {
  let storage: RemoteStorage;
  beforeAll(async () => {
    storage = await backend.open();
  });
  afterAll(async () => {
    await storage.close();
    await backend.teardown();
  });

  it('get of a missing key is undefined', async () => {
    expect(await storage.get('nothing/here')).toBeUndefined();
    expect(await storage.getRange('nothing/here', 0, 10)).toBeUndefined();
  });

  it('put then get returns the same bytes, and put replaces', async () => {
    await storage.put('tenants/a/x.bin', bytes('first'));
    expect(text(await storage.get('tenants/a/x.bin'))).toBe('first');
    await storage.put('tenants/a/x.bin', bytes('second version'));
    expect(text(await storage.get('tenants/a/x.bin'))).toBe('second version');
  });

  it('putFile uploads a local file whole (several MiB, one request), replaces, and a missing file fails with ENOENT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-putfile-'));
    try {
      const big = new Uint8Array(5 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i++) big[i] = (i * 131 + 7) & 0xff;
      await writeFile(join(dir, 'layer'), big);
      expect(await storage.putFile('tenants/a/layers/L1', join(dir, 'layer'))).toBe(big.length);
      expect(Buffer.compare(Buffer.from((await storage.get('tenants/a/layers/L1'))!), Buffer.from(big))).toBe(0);
      await writeFile(join(dir, 'small'), bytes('replaced'));
      expect(await storage.putFile('tenants/a/layers/L1', join(dir, 'small'))).toBe(8);
      expect(text(await storage.get('tenants/a/layers/L1'))).toBe('replaced');
      // The upload queue tells a layer replaced before its upload from a storage failure by this code.
      await expect(storage.putFile('tenants/a/layers/L2', join(dir, 'gone'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await storage.get('tenants/a/layers/L2')).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stores binary and empty objects exactly', async () => {
    const blob = new Uint8Array(300_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 7919) & 0xff;
    await storage.put('bin/blob', blob);
    const got = await storage.get('bin/blob');
    expect(got && Buffer.from(got).equals(blob)).toBe(true);
    await storage.put('bin/empty', new Uint8Array(0));
    expect(await storage.get('bin/empty')).toEqual(new Uint8Array(0));
  });

  it('getRange clips at the end and is empty past it', async () => {
    await storage.put('r/obj', bytes('0123456789'));
    expect(text(await storage.getRange('r/obj', 2, 3))).toBe('234');
    expect(text(await storage.getRange('r/obj', 8, 100))).toBe('89');
    expect(text(await storage.getRange('r/obj', 10, 5))).toBe('');
    expect(text(await storage.getRange('r/obj', 3, 0))).toBe('');
  });

  it('list returns sorted keys under a prefix, not beyond it', async () => {
    await storage.put('l/t1/wal/0002', bytes('b'));
    await storage.put('l/t1/wal/0001', bytes('a'));
    await storage.put('l/t1/control', bytes('c'));
    await storage.put('l/t10/wal/0001', bytes('d'));
    expect(await storage.list('l/t1/')).toEqual(['l/t1/control', 'l/t1/wal/0001', 'l/t1/wal/0002']);
    expect(await storage.list('l/t1')).toEqual([
      'l/t1/control',
      'l/t1/wal/0001',
      'l/t1/wal/0002',
      'l/t10/wal/0001',
    ]);
    expect(await storage.list('l/t1/wal/000')).toEqual(['l/t1/wal/0001', 'l/t1/wal/0002']);
    expect(await storage.list('l/none/')).toEqual([]);
    expect((await storage.list('')).length).toBeGreaterThanOrEqual(4);
  });

  it('delete removes, and deleting twice is fine', async () => {
    await storage.put('d/k', bytes('x'));
    await storage.delete('d/k');
    expect(await storage.get('d/k')).toBeUndefined();
    await storage.delete('d/k');
    expect(await storage.list('d/')).toEqual([]);
  });

  it('refuses keys that could escape the root', async () => {
    for (const key of ['', '/abs', 'a/../b', 'a//b', './a', 'a/', `x${TEMP_MARKER}1`, 'a\\b']) {
      await expect(storage.put(key, bytes('x')), key).rejects.toBeInstanceOf(InvalidRemoteKey);
    }
  });
});

describe('file backend specifics', () => {
  it('leaves no temp files behind and ignores stray ones in list', async () => {
    const root = await mkdtemp(join(tmpdir(), 'strata-remote-'));
    try {
      const storage = new LocalFsStorage(root);
      await storage.put('a/b', bytes('x'));
      expect(await readdir(join(root, 'a'))).toEqual(['b']);
      // A crash between the temp write and the rename leaves a temp file: it is not a key.
      await writeFile(join(root, 'a', `${TEMP_MARKER}dead`), 'partial');
      expect(await storage.list('a/')).toEqual(['a/b']);
      expect(text(await storage.get('a/b'))).toBe('x');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('parseRemoteStorageUrl', () => {
  it('parses file and s3 URLs', async () => {
    const { parseRemoteStorageUrl } = await import('./index.js');
    expect(parseRemoteStorageUrl('file:///var/lib/strata/remote/')).toEqual({ kind: 'file', root: '/var/lib/strata/remote' });
    expect(parseRemoteStorageUrl('s3://my-bucket/a/b?endpoint=http://127.0.0.1:9000&region=eu-west-1')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'a/b',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
    });
    expect(parseRemoteStorageUrl('s3://bucket')).toEqual({
      kind: 's3',
      bucket: 'bucket',
      prefix: '',
      endpoint: undefined,
      region: undefined,
    });
  });

  it.each([
    ['not a url', /not a URL/],
    ['http://example.com/x', /unknown scheme "http:"/],
    ['file://host/x', /take no host/],
    ['file:///', /filesystem root/],
    ['file:///a/x?foo=1', /Unrecognized key/],
    ['s3://Bad_Bucket/x', /bucket names/],
    ['s3://bucket/x?endpoint=ftp://h', /endpoint must be/],
    ['s3://bucket/x?endpoint=notaurl', /endpoint must be/],
    ['s3://bucket/x?regoin=us-east-1', /Unrecognized key.*regoin/],
    ['s3://bucket/x?region=a&region=b', /repeated/],
    ['s3://key:secret@bucket/x', /credentials do not belong/],
  ])('rejects %s', async (url, message) => {
    const { parseRemoteStorageUrl } = await import('./index.js');
    let error: unknown;
    try {
      parseRemoteStorageUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidRemoteStorageUrl);
    expect((error as Error).message).toMatch(message);
  });
});
