import { cookies } from 'next/headers';
import type { ReactNode } from 'react';
import { Prefetch } from '../components/prefetch';
import { Shell } from '../components/shell';
import { ThemeProvider } from '../components/theme/theme-context';
import { meQuery } from '../data/operators/queries';
import { parseThemeChoice, THEME_COOKIE } from '../lib/theme';
import { Providers } from './providers';
import './styles.css';

export const metadata = { title: 'Strata console' };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // The chosen scheme is rendered by the server, so the first paint already has it (no light flash).
  const theme = parseThemeChoice((await cookies()).get(THEME_COOKIE)?.value);
  return (
    <html lang="en" {...(theme ? { 'data-theme': theme } : {})}>
      <body>
        <ThemeProvider initial={theme}>
          <Providers>
            {/* The shell's sign-in gate is decided here, so the first paint is the page or the form, not "Loading…". */}
            <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(meQuery(trpc))]}>
              <Shell>{children}</Shell>
            </Prefetch>
          </Providers>
        </ThemeProvider>
      </body>
    </html>
  );
}
