export * from './errors.js';
export { type RemoteStorage, type RequestOptions, TEMP_MARKER } from './types.js';
export { parseRemoteStorageUrl, remoteStorageUrlFlag, type RemoteStorageConfig } from './url.js';
export { LocalFsStorage, writeFileAtomic, fsyncDir } from './local-fs.js';
export { S3Storage, type S3StorageOptions } from './s3.js';
import { LocalFsStorage } from './local-fs.js';
import { S3Storage, type S3StorageOptions } from './s3.js';
import { parseRemoteStorageUrl, type RemoteStorageConfig } from './url.js';
import type { RemoteStorage } from './types.js';

/** Opens the backend a URL (or a parsed config) names. */
export function openRemoteStorage(
  urlOrConfig: string | RemoteStorageConfig,
  options: { credentials?: S3StorageOptions['credentials'] } = {},
): RemoteStorage {
  const config = typeof urlOrConfig === 'string' ? parseRemoteStorageUrl(urlOrConfig) : urlOrConfig;
  switch (config.kind) {
    case 'file':
      return new LocalFsStorage(config.root);
    case 's3':
      return new S3Storage({ ...config, ...options });
  }
}
