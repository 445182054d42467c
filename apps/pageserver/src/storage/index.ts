export * from './timeline.js';
export * from './timeline-meta.js';
export * from './import-datadir.js';
export * from './basebackup.js';
export * from './errors.js';
export * from './remote-timeline.js';
