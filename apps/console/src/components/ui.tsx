'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { useTRPC } from '../lib/trpc';
import type { OperationOut } from '../server/routers/shapes';

interface ErrorLike {
  message: string;
  data?: { code?: string; strata?: { code: string; service: string | null; serviceCode: string | null } | null } | null;
}

/** A failed call as the service typed it: its code, the service that raised it, the message. */
export function ErrorBox({ error }: { error: ErrorLike | null | undefined }) {
  if (!error) return null;
  const s = error.data?.strata;
  return (
    <div className="error" role="alert">
      <code>{s?.serviceCode ?? s?.code ?? error.data?.code ?? 'ERROR'}</code>
      {s?.service ? <span> from {s.service}</span> : null}: {error.message}
    </div>
  );
}

/** Viewers see, admins act: whether the signed-in operator may start actions. */
export function useIsAdmin(): boolean {
  const trpc = useTRPC();
  const me = useQuery(trpc.operators.me.queryOptions());
  return me.data?.role === 'admin';
}

/**
 * Controls that change the cluster or the operators: disabled for a viewer (the server refuses
 * their mutations anyway, with FORBIDDEN), so a viewer is never offered an action that fails.
 */
export function AdminOnly({ children }: { children: ReactNode }) {
  const admin = useIsAdmin();
  return (
    <fieldset className="admin-only" disabled={!admin} title={admin ? undefined : 'Viewers see; only admins can do this'}>
      {children}
    </fieldset>
  );
}

const DONE = new Set(['finished', 'failed']);

/** Follows an operation until it ends, step by step. */
export function OperationProgress({ id, onDone }: { id: string; onDone?: (op: { id: string; status: OperationOut['status'] }) => void }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const q = useQuery({
    ...trpc.operations.get.queryOptions({ id }),
    refetchInterval: (query) => (query.state.data && DONE.has(query.state.data.status) ? false : 500),
  });
  const op = q.data;
  const ended = op !== undefined && DONE.has(op.status);
  useEffect(() => {
    // Once it ends, every list may have changed (branches, computes, members).
    if (ended && op) {
      void qc.invalidateQueries();
      onDone?.(op);
    }
  }, [ended]);
  if (!op) return <ErrorBox error={q.error} />;
  return (
    <div className="card" data-testid="operation" data-status={op.status}>
      <div>
        <b>{op.kind}</b> — <span className={op.status === 'failed' ? 'bad' : op.status === 'finished' ? 'ok' : 'warn'}>{op.status}</span>
        {op.attempt > 1 ? ` (attempt ${op.attempt})` : ''}
      </div>
      <ol className="steps">
        {op.steps.map((s) => (
          <li key={s.position} data-step-status={s.status}>
            {s.status === 'finished' ? '✔' : s.status === 'failed' ? '✘' : s.status === 'running' ? '…' : '○'} {s.name}
            {s.detail ? <span className="detail">{s.detail}</span> : null}
          </li>
        ))}
      </ol>
      {op.errorMessage ? (
        <div className="error" role="alert">
          <code>{op.errorCode}</code>: {op.errorMessage}
        </div>
      ) : null}
    </div>
  );
}

/** A mutation that starts an operation, and the progress of the last one started. */
export function useOperation<I>(options: { mutationFn: (input: I) => Promise<{ id: string }> }) {
  const [current, setCurrent] = useState<string | null>(null);
  const m = useMutation({ mutationFn: options.mutationFn, onSuccess: (op) => setCurrent(op.id) });
  return {
    start: (input: I) => m.mutate(input),
    pending: m.isPending,
    error: m.error as ErrorLike | null,
    view: (
      <>
        <ErrorBox error={m.error as ErrorLike | null} />
        {current ? <OperationProgress key={current} id={current} /> : null}
      </>
    ),
  };
}

export function Lsn({ value }: { value: string | null | undefined }) {
  return <span className="mono">{value ?? '—'}</span>;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}
