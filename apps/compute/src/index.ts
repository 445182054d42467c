export * from './compute.js';
export * from './errors.js';
export * from './shipper.js';
export * from './aux-watcher.js';
export * from './app.js';
export { mariadbdArgs, MARIADBD_PATH } from './mariadbd.js';
export * from './bootstrap.js';
export * from './controller.js';
export { COMPUTE_START_FLAGS } from './controller-args.js';
