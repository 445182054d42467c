'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { overviewKeys } from '../../data/overview/keys';
import { AdminOnly } from '../admin-only';
import { ErrorBox } from '../ui';

/**
 * Acknowledge (admins) of an alert about a compute that stopped, e.g. fenced: its exit record is
 * removed, and the Overview, whose alerts every page reads, is refetched so the alert leaves at once.
 */
export function AcknowledgeExitButton({ name }: { name: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const m = useMutation(trpc.computes.acknowledgeExit.mutationOptions({ onSuccess: () => qc.invalidateQueries({ queryKey: overviewKeys.all(trpc) }) }));
  return (
    <AdminOnly>
      {' '}
      <button type="button" className="secondary" data-testid="acknowledge-exit" disabled={m.isPending} onClick={() => m.mutate({ name })}>
        Acknowledge
      </button>
      <ErrorBox error={m.error} />
    </AdminOnly>
  );
}
