'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { TRPCClientError } from '@trpc/client';
import { useState } from 'react';
import { useTRPC } from '../../lib/trpc';
import type { AppRouter } from '../../server/routers/_app';
import { operationKeys } from './keys';

/**
 * A mutation that starts an operation (every admin action does), and the id of the last one started
 * so its progress can be followed. What the operation changes is refreshed when it ends (useOperation).
 */
export function useStartOperation<I>(start: (input: I) => Promise<{ id: string }>) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [current, setCurrent] = useState<string | null>(null);
  const m = useMutation<{ id: string }, TRPCClientError<AppRouter>, I>({
    mutationFn: start,
    onSuccess: (op) => {
      setCurrent(op.id);
      void qc.invalidateQueries({ queryKey: operationKeys.lists(trpc) });
    },
  });
  return { start: m.mutate, pending: m.isPending, error: m.error, current };
}
