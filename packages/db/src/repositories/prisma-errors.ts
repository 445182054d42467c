/** Translates Prisma's known request errors into our own, so nothing above the repositories needs Prisma. */
import { Prisma } from '../generated/prisma/client.js';
import { AlreadyExists, NotFound } from '../errors.js';

export async function translate<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof Prisma.PrismaClientKnownRequestError) {
      if (e.code === 'P2002') throw new AlreadyExists(what);
      if (e.code === 'P2025') throw new NotFound(what);
    }
    throw e;
  }
}
