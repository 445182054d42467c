/**
 * `./strata up --s3`: the same local cluster with an S3 protocol server
 * (s3rver) on loopback as its remote storage. The tenant's layers and index
 * land in the bucket; `down` and `up --s3` resume with the data; `up`
 * without --s3 on that home is refused with a clear message.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeLine, fingerprint, type LocalCli, localClusterPerFile, withUrl } from '../support/local-cluster.js';

let home: string;
let cli: LocalCli;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

localClusterPerFile('strata-local-s3-', (h, c) => {
  home = h;
  cli = c;
});

describe('local cluster on S3 (./strata up --s3)', () => {
  it('[UP --s3] remote storage is an S3 server; the cluster resumes after down; the storage kind cannot change', async () => {
    const first = await cli(['up', '--s3', '--no-console']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^s3 http:\/\/127\.0\.0\.1:\d+$/m);
    const url = computeLine(first.stdout, 'main').url;
    let fp = '';
    await withUrl(url, async (c) => {
      await c.query('CREATE DATABASE app');
      await c.query('USE app');
      await c.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=InnoDB');
      await c.query("INSERT INTO t SELECT seq, CONCAT('row', seq) FROM seq_1_to_2000");
      fp = await fingerprint(c, 't');
    });
    // The bucket holds the tenant's storage (objects of s3rver's directory), not a local remote directory.
    const objects = filesUnder(join(home, 's3'));
    expect(objects.some((f) => f.includes('index'))).toBe(true);
    const status = await cli(['status']);
    expect(status.stdout).toMatch(/remote s3:\/\/strata\//);

    expect((await cli(['down'])).stdout).toMatch(/^stopped s3$/m);
    const wrongKind = await cli(['up', '--no-console']);
    expect(wrongKind.code).not.toBe(0);
    expect(wrongKind.stderr).toMatch(/--s3/);
    const again = await cli(['up', '--s3', '--no-console']);
    expect(again.code, again.stderr).toBe(0);
    await withUrl(computeLine(again.stdout, 'main').url, async (c) => expect(await fingerprint(c, 'app.t')).toBe(fp));
  });
});
