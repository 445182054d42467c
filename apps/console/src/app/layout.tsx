import type { ReactNode } from 'react';
import { Prefetch } from '../components/prefetch';
import { Shell } from '../components/shell';
import { meQuery } from '../data/operators/queries';
import { Providers } from './providers';
import './styles.css';

export const metadata = { title: 'Strata console' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          {/* The shell's sign-in gate is decided here, so the first paint is the page or the form, not "Loading…". */}
          <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(meQuery(trpc))]}>
            <Shell>{children}</Shell>
          </Prefetch>
        </Providers>
      </body>
    </html>
  );
}
