// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- s3rver ships no types: ours must follow this file into every program that imports it (apps, test/).
/// <reference path="./s3rver.d.ts" />
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface RunningS3rver {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

/**
 * Boots a real s3rver on a free loopback port with one bucket. s3rver checks
 * signatures against the access key pair S3RVER/S3RVER.
 */
export async function startS3rver(bucket = 'strata-test'): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 'strata-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
