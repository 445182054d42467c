import { z } from 'zod';
import { addOperator, operatorsList, PASSWORD_LENGTH_MIN, removeOperator, sessionOperator, setOperatorPassword, setOperatorRole, signIn, signOut } from '../services/auth';
import { adminProcedure, publicProcedure, router, viewerProcedure } from '../trpc';
import { iso } from './shapes';

const role = z.enum(['viewer', 'admin']);
const operatorOut = z.object({ id: z.string(), username: z.string(), role, createdAt: iso });
const show = (o: { id: string; username: string; role: 'viewer' | 'admin'; createdAt: Date }) => ({ ...o, createdAt: o.createdAt.toISOString() });
const username = z.string().regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'lowercase letters, digits, _ . -');
const password = z.string().min(PASSWORD_LENGTH_MIN).max(200);

export const operatorsRouter = router({
  signIn: publicProcedure
    .input(z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) }))
    .output(operatorOut)
    .mutation(async ({ ctx, input }) => {
      const s = await signIn(ctx.deps, input.username, input.password, ctx.clientAddress);
      ctx.cookies.setSession(s.token, s.expiresAt);
      return show(s.operator);
    }),
  signOut: publicProcedure
    .input(z.object({}).optional())
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx }) => {
      if (ctx.session) await signOut(ctx.deps, ctx.session.tokenHash);
      ctx.cookies.clearSession();
      return { ok: true as const };
    }),
  me: publicProcedure
    .input(z.object({}).optional())
    .output(operatorOut.nullable())
    .query(({ ctx }) => (ctx.session ? show(ctx.session.operator) : null)),
  list: viewerProcedure
    .input(z.object({}).optional())
    .output(z.array(operatorOut))
    .query(async ({ ctx }) => (await operatorsList(ctx.deps)).map(show)),
  create: adminProcedure
    .input(z.object({ username, password, role }))
    .output(operatorOut)
    .mutation(async ({ ctx, input }) => show(await addOperator(ctx.deps, input))),
  setRole: adminProcedure
    .input(z.object({ id: z.string().uuid(), role }))
    .output(operatorOut)
    .mutation(async ({ ctx, input }) => show(await setOperatorRole(ctx.deps, input.id, input.role))),
  setPassword: adminProcedure
    .input(z.object({ id: z.string().uuid(), password }))
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await setOperatorPassword(ctx.deps, input.id, input.password);
      return { ok: true as const };
    }),
  remove: adminProcedure
    .input(z.object({ id: z.string().uuid() }))
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await removeOperator(ctx.deps, input.id);
      return { ok: true as const };
    }),
});

// Re-exported for the route handler, which resolves the cookie before tRPC runs.
export { sessionOperator };
