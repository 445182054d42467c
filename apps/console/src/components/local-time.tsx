'use client';
import { useHydrated } from './hydration';

/**
 * A time in the browser's zone and locale. The server renders the ISO form: its zone and locale are
 * not the browser's, and formatting there would not match what the browser hydrates.
 */
export function LocalTime({ iso }: { iso: string }) {
  const hydrated = useHydrated();
  return <time dateTime={iso}>{hydrated ? new Date(iso).toLocaleString() : iso}</time>;
}
