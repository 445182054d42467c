import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { open } from 'node:fs/promises';
import { RemoteStorageIoError } from './errors.js';
import { checkKey, checkPrefix, checkRange, type RemoteStorage, type RequestOptions } from './types.js';

export interface S3StorageOptions {
  bucket: string;
  /** Prepended to every key with a '/', unless empty. */
  prefix: string;
  endpoint: string | undefined;
  /** Default us-east-1. The services pass the URL's `region`, else the AWS_REGION their env.ts read. */
  region: string | undefined;
  /** Overrides the SDK's default credential chain (AWS_ACCESS_KEY_ID, ...). */
  credentials?: S3ClientConfig['credentials'];
}

function isMissing(e: unknown): boolean {
  if (e instanceof NoSuchKey) return true;
  return e instanceof S3ServiceException && (e.name === 'NoSuchKey' || e.$metadata.httpStatusCode === 404);
}

function isInvalidRange(e: unknown): boolean {
  return e instanceof S3ServiceException && (e.name === 'InvalidRange' || e.$metadata.httpStatusCode === 416);
}

/** Objects in an S3-compatible store (AWS, MinIO, s3rver), path-style addressing. */
export class S3Storage implements RemoteStorage {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly base: string;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.base = options.prefix === '' ? '' : `${options.prefix}/`;
    this.description = `s3://${options.bucket}/${options.prefix}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      forcePathStyle: true,
      // Checksums only where S3 requires them: S3-compatible stores (s3rver,
      // older MinIO) do not all understand the trailing-checksum encoding.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.base + key;
  }

  async put(key: string, bytes: Uint8Array, options: RequestOptions = {}): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key, Body: bytes, ContentLength: bytes.byteLength }),
        { abortSignal: options.signal },
      );
    } catch (e) {
      throw new RemoteStorageIoError('put', key, e);
    }
  }

  async putFile(key: string, localPath: string, options: RequestOptions = {}): Promise<number> {
    const bytes = await readWholeFile(localPath);
    await this.put(key, bytes, options);
    return bytes.length;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const Key = this.objectKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!out.Body) return new Uint8Array(0);
      return await out.Body.transformToByteArray();
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw new RemoteStorageIoError('get', key, e);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    checkRange(offset, length);
    const Key = this.objectKey(key);
    if (length === 0) {
      // HTTP ranges cannot be empty; an existence check keeps the contract.
      return (await this.get(key)) === undefined ? undefined : new Uint8Array(0);
    }
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key, Range: `bytes=${offset}-${offset + length - 1}` }),
      );
      if (!out.Body) return new Uint8Array(0);
      return await out.Body.transformToByteArray();
    } catch (e) {
      if (isMissing(e)) return undefined;
      if (isInvalidRange(e)) return new Uint8Array(0);
      throw new RemoteStorageIoError('getRange', key, e);
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const keys: string[] = [];
    let token: string | undefined;
    try {
      // Bounded by what the bucket holds; each page is at most 1000 keys.
      do {
        const out = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base + prefix, ContinuationToken: token }),
        );
        for (const o of out.Contents ?? []) {
          if (o.Key !== undefined) keys.push(o.Key.slice(this.base.length));
        }
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (e) {
      throw new RemoteStorageIoError('list', prefix, e);
    }
    return keys.sort();
  }

  async delete(key: string, options: RequestOptions = {}): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: options.signal });
    } catch (e) {
      if (isMissing(e)) return;
      throw new RemoteStorageIoError('delete', key, e);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** A file's bytes in as few thread-pool requests as the kernel allows (one read(2) returns at most ~2 GiB). */
async function readWholeFile(path: string): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(buf, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === size ? buf : buf.subarray(0, at);
  } finally {
    await fh.close();
  }
}
