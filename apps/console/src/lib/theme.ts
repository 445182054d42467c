/**
 * The operator's colour scheme choice, shared by the server (which renders it on <html>, so the first
 * paint is already right) and the browser (which changes it). No choice means "follow the system".
 */
import { z } from 'zod';

export const THEME_COOKIE = 'strata-theme';
/** A year: the choice is a preference of the browser, not of a session. */
export const THEME_COOKIE_MAX_AGE_S = 365 * 86_400;

export const themeChoice = z.enum(['light', 'dark']);
export type ThemeChoice = z.infer<typeof themeChoice>;

/** A cookie's value as a choice; anything else (absent, tampered) is no choice. */
export function parseThemeChoice(value: string | undefined): ThemeChoice | null {
  const r = themeChoice.safeParse(value);
  return r.success ? r.data : null;
}
