'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { operatorKeys } from './keys';

/** Adding, re-roling and removing operators. */
export function useOperatorMutations() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  // The list, and `me`: a role change or a removal may be the signed-in operator's own.
  const onSuccess = () => qc.invalidateQueries({ queryKey: operatorKeys.all(trpc) });
  return {
    create: useMutation(trpc.operators.create.mutationOptions({ onSuccess })),
    setRole: useMutation(trpc.operators.setRole.mutationOptions({ onSuccess })),
    remove: useMutation(trpc.operators.remove.mutationOptions({ onSuccess })),
  };
}
