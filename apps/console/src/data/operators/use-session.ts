'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { operatorKeys } from './keys';

export function useSignIn() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  // Anything cached was answered for no one: every query, `me` first among them, asks again.
  return useMutation(trpc.operators.signIn.mutationOptions({ onSuccess: () => qc.invalidateQueries({ queryKey: operatorKeys.session(trpc) }) }));
}

export function useSignOut() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  // Dropped, not refetched: the next operator at this browser must not see the last one's data.
  return useMutation(trpc.operators.signOut.mutationOptions({ onSuccess: () => qc.clear() }));
}
