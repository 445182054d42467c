export * from './errors.js';
export { type RemoteStorage, type RequestOptions, TEMP_MARKER } from './types.js';
export { parseRemoteStorageUrl, remoteStorageUrlFlag, type RemoteStorageConfig } from './url.js';
export { LocalFsStorage, writeFileAtomic, fsyncDir } from './local-fs.js';
export { S3Storage, type S3StorageOptions } from './s3.js';
import { LocalFsStorage } from './local-fs.js';
import { S3Storage, type S3StorageOptions } from './s3.js';
import { parseRemoteStorageUrl, type RemoteStorageConfig } from './url.js';
import type { RemoteStorage } from './types.js';

export interface OpenRemoteStorageOptions {
  readonly credentials?: S3StorageOptions['credentials'];
  /**
   * The S3 region when the URL names none (`?region=`); default us-east-1.
   * Services read it from AWS_REGION in their env.ts: a package never reads
   * the environment.
   */
  readonly region?: string | undefined;
}

/** Opens the backend a URL (or a parsed config) names. */
export function openRemoteStorage(urlOrConfig: string | RemoteStorageConfig, options: OpenRemoteStorageOptions = {}): RemoteStorage {
  const config = typeof urlOrConfig === 'string' ? parseRemoteStorageUrl(urlOrConfig) : urlOrConfig;
  switch (config.kind) {
    case 'file':
      return new LocalFsStorage(config.root);
    case 's3':
      return new S3Storage({ ...config, region: config.region ?? options.region, ...(options.credentials !== undefined ? { credentials: options.credentials } : {}) });
  }
}
