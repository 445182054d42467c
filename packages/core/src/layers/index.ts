export * from './key.js';
export * from './page-value.js';
export * from './layer-file.js';
export * from './layer-map.js';
export * from './reconstruct.js';
export * from './gc.js';
export * from './compaction.js';
export * from './lsn-time.js';
