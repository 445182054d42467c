export * from './tablespace-files.js';
export * from './fresh-log.js';
export * from './log-reader.js';
export * from './native-crc32c.js';
export * from './aux-files.js';
export * from './tar.js';
export * from './tar-dir-sink.js';
