// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- s3rver ships no types: ours must follow this file into every program that imports it.
/// <reference path="./s3rver.d.ts" />
/**
 * A real S3 protocol server (s3rver) on loopback over a persistent
 * directory: the object store of a local cluster started with `up --s3`.
 * It checks signatures against the key pair S3RVER/S3RVER.
 */
import { mkdir } from 'node:fs/promises';
import S3rver from 's3rver';

export interface S3ServerOptions {
  readonly directory: string;
  readonly port: number;
  readonly bucket: string;
}

export interface RunningS3Server {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  close(): Promise<void>;
}

export const S3_SERVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export async function runS3Server(o: S3ServerOptions): Promise<RunningS3Server> {
  await mkdir(o.directory, { recursive: true });
  const server = new S3rver({ address: '127.0.0.1', port: o.port, silent: true, directory: o.directory, configureBuckets: [{ name: o.bucket }] });
  const address = await server.run();
  return { endpoint: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}
