export * from './cluster.js';
export * from './clock.js';
export * from './disk.js';
export * from './network.js';
