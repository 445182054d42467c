'use client';
import type { ReactNode } from 'react';
import { useMe } from '../data/operators/use-me';
import { useHydrated } from './hydration';

/** Viewers see, admins act: whether the signed-in operator may start actions. */
export function useIsAdmin(): boolean {
  return useMe().data?.role === 'admin';
}

/**
 * Controls that change the cluster or the operators: disabled for a viewer (the server refuses
 * their mutations anyway, with FORBIDDEN), so a viewer is never offered an action that fails;
 * and, for everyone, until the prefetched page is hydrated and the controls work.
 */
export function AdminOnly({ children }: { children: ReactNode }) {
  const admin = useIsAdmin();
  const hydrated = useHydrated();
  return (
    <fieldset className="admin-only" disabled={!admin || !hydrated} title={admin ? undefined : 'Viewers see; only admins can do this'}>
      {children}
    </fieldset>
  );
}
