import type { Db, DbOrTx } from './client.js';

export function inTransaction<T>(db: Db, fn: (tx: DbOrTx) => Promise<T>): Promise<T> {
  return db.$transaction((tx) => fn(tx));
}
