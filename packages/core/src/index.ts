export * from './errors.js';
export * from './assert.js';
export * from './bytes.js';
export * as redo from './redo/index.js';
export * from './aux-set.js';
export * from './auth-headers.js';
