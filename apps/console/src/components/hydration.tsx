'use client';
import { useSyncExternalStore, type ReactNode } from 'react';

const never = () => () => {};

/**
 * False while rendering on the server and hydrating, true once React owns the page. Prefetched pages
 * arrive as HTML with their data: until then their controls would do nothing (or submit natively).
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    never,
    () => true,
    () => false,
  );
}

/** Controls that only work with React behind them: disabled until the page is hydrated. */
export function Interactive({ children }: { children: ReactNode }) {
  const hydrated = useHydrated();
  return (
    <fieldset className="bare" disabled={!hydrated}>
      {children}
    </fieldset>
  );
}
