'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useState, type ReactNode } from 'react';
import { useMe } from '../data/operators/use-me';
import { useSignIn, useSignOut } from '../data/operators/use-session';
import { Interactive, useHydrated } from './hydration';
import { ThemeToggle } from './theme/theme-toggle';
import { ErrorBox } from './ui';

const PAGES = [
  ['/', 'Overview'],
  ['/tenants', 'Tenants'],
  ['/branches', 'Branches'],
  ['/snapshots', 'Snapshots'],
  ['/computes', 'Computes'],
  ['/time-travel', 'Time travel'],
  ['/safekeepers', 'Safekeepers'],
  ['/pageservers', 'Page servers'],
  ['/metrics', 'Metrics'],
  ['/operations', 'Operations'],
  ['/operators', 'Operators'],
] as const;

/** Navigation and the sign-in gate: nothing but the form shows until a session exists. */
export function Shell({ children }: { children: ReactNode }) {
  const path = usePathname();
  const me = useMe();
  const signOut = useSignOut();
  const hydrated = useHydrated();
  if (me.isPending) return <main>Loading…</main>;
  if (!me.data) return <SignIn />;
  return (
    <div className="shell">
      <nav className="side">
        <div className="who" data-testid="who">
          {me.data.username} ({me.data.role})
        </div>
        {PAGES.map(([href, title]) => (
          <Link key={href} href={href} className={path === href ? 'active' : ''}>
            {title}
          </Link>
        ))}
        <div className="who nav-actions">
          <button className="secondary" disabled={!hydrated} onClick={() => signOut.mutate({})}>
            Sign out
          </button>
          <ThemeToggle />
        </div>
      </nav>
      <main>
        {me.data.role === 'viewer' ? (
          <div className="banner" data-testid="viewer-banner">
            Signed in as a viewer: you see everything; actions are for admins.
          </div>
        ) : null}
        {children}
      </main>
    </div>
  );
}

function SignIn() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useSignIn();
  return (
    <main style={{ maxWidth: 360, margin: '80px auto' }}>
      <h1>Strata console</h1>
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          signIn.mutate({ username, password });
        }}
      >
        {/* Until hydrated, a native submit would put the password in the URL. */}
        <Interactive>
          <label>
            Username
            <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" />
          </label>
          <label>
            Password
            <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" />
          </label>
          <p>
            <button type="submit" disabled={signIn.isPending}>
              Sign in
            </button>
          </p>
        </Interactive>
        <ErrorBox error={signIn.error} />
      </form>
    </main>
  );
}
