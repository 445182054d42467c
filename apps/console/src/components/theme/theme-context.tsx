'use client';
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';
import { THEME_COOKIE, THEME_COOKIE_MAX_AGE_S, type ThemeChoice } from '../../lib/theme';

interface ThemeState {
  /** null: the system's scheme (prefers-color-scheme) decides. */
  choice: ThemeChoice | null;
  choose: (choice: ThemeChoice | null) => void;
}

const ThemeContext = createContext<ThemeState>({ choice: null, choose: () => undefined });

/** Writes the choice where the server reads it (a cookie) and where the CSS reads it (data-theme). */
function persist(choice: ThemeChoice | null): void {
  const root = document.documentElement;
  if (choice === null) {
    delete root.dataset['theme'];
    document.cookie = `${THEME_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax`;
  } else {
    root.dataset['theme'] = choice;
    document.cookie = `${THEME_COOKIE}=${choice}; Path=/; Max-Age=${THEME_COOKIE_MAX_AGE_S}; SameSite=Lax`;
  }
}

/** Holds the choice the server rendered with (`initial`, from the cookie) and changes it. */
export function ThemeProvider({ initial, children }: { initial: ThemeChoice | null; children: ReactNode }) {
  const [choice, setChoice] = useState(initial);
  const choose = useCallback((next: ThemeChoice | null) => {
    persist(next);
    setChoice(next);
  }, []);
  return <ThemeContext.Provider value={{ choice, choose }}>{children}</ThemeContext.Provider>;
}

export function useThemeChoice(): ThemeState {
  return useContext(ThemeContext);
}
