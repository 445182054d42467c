'use client';
import { useMutation } from '@tanstack/react-query';
import type { TRPCClientError } from '@trpc/client';
import { useTRPCClient } from '../../lib/trpc';
import type { AppRouter } from '../../server/routers/_app';
import type { OperationOut } from '../../server/routers/shapes';
import { AdminOnly } from '../admin-only';
import { ErrorBox } from '../ui';

/**
 * Cancel for a running operation (admins): it stops at its next safe point and undoes what it made;
 * the poll of the operation shows it end as cancelled. A refusal (past its point of no return) is shown here.
 */
export function CancelButton({ op }: { op: Pick<OperationOut, 'id' | 'status'> }) {
  const client = useTRPCClient();
  const m = useMutation<unknown, TRPCClientError<AppRouter>, string>({ mutationFn: (id) => client.operations.cancel.mutate({ id }) });
  if (op.status !== 'running' && op.status !== 'scheduled') return null;
  return (
    <AdminOnly>
      <button type="button" className="secondary" data-testid="cancel-operation" disabled={m.isPending || m.isSuccess} onClick={() => m.mutate(op.id)}>
        {m.isSuccess ? 'Cancelling…' : 'Cancel'}
      </button>
      <ErrorBox error={m.error} />
    </AdminOnly>
  );
}
