import type { ReactNode } from 'react';
import { Providers } from './providers';
import { Shell } from '../components/shell';
import './styles.css';

export const metadata = { title: 'Strata console' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <Shell>{children}</Shell>
        </Providers>
      </body>
    </html>
  );
}
