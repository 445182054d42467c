'use client';
import { useHydrated } from '../hydration';
import { useThemeChoice } from './theme-context';
import { useSystemScheme } from './use-system-scheme';

/**
 * Flips what the operator sees (dark ↔ light) and remembers it; once a choice is made, "system"
 * goes back to following the system's preference.
 */
export function ThemeToggle() {
  const { choice, choose } = useThemeChoice();
  const system = useSystemScheme();
  const hydrated = useHydrated();
  const effective = choice ?? system;
  return (
    <span className="nav-actions">
      <button
        type="button"
        className="secondary"
        data-testid="theme-toggle"
        aria-pressed={effective === 'dark'}
        disabled={!hydrated}
        onClick={() => choose(effective === 'dark' ? 'light' : 'dark')}
      >
        Dark mode
      </button>
      {choice !== null ? (
        <button type="button" className="secondary" data-testid="theme-system" disabled={!hydrated} onClick={() => choose(null)} title="Follow the system's colour scheme again">
          System
        </button>
      ) : null}
    </span>
  );
}
