'use client';
import { useState } from 'react';
import { mariadbCommand, parseConnection, urlWithoutPassword } from '../../lib/connection';
import { useTRPCClient } from '../../lib/trpc';
import { useIsAdmin } from '../admin-only';
import { CopyButton } from '../copy-button';
import { useHydrated } from '../hydration';
import { ErrorBox, type ErrorLike } from '../ui';

export interface ConnectionTarget {
  name: string;
  mode: string;
  state: string;
  connectionUrl: string | null;
}

const MASK = '••••••••';

/**
 * How to connect to one compute: host, port, user, the password masked until an admin reveals it,
 * the URL and a ready `mariadb` command, each with a copy button. The polled list never carries the
 * password; Reveal asks `computes.connection` (admins only) for it, once, when clicked.
 */
export function ConnectionPanel({ compute }: { compute: ConnectionTarget }) {
  const admin = useIsAdmin();
  const hydrated = useHydrated();
  const client = useTRPCClient();
  const [revealed, setRevealed] = useState<string | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const listed = compute.connectionUrl ? parseConnection(compute.connectionUrl) : null;
  const secret = revealed ? parseConnection(revealed) : null;
  const c = secret ?? listed;
  const toggle = () => {
    if (revealed) {
      setRevealed(null);
      return;
    }
    setError(null);
    client.computes.connection.query({ name: compute.name }).then(
      (r) => setRevealed(r.connectionUrl),
      (e: unknown) => setError(e instanceof Error ? e : { message: String(e) }),
    );
  };
  if (!c) {
    return (
      <div className="card" data-testid={`connection-${compute.name}`}>
        <b>{compute.name}</b> <span className="hint">no connection ({compute.state})</span>
      </div>
    );
  }
  const show = revealed !== null && c.password !== null;
  const url = show ? revealed : urlWithoutPassword(c);
  const command = mariadbCommand(c, show);
  return (
    <div className="card connection" data-testid={`connection-${compute.name}`}>
      <div>
        <b>{compute.name}</b> <span className="hint">{compute.mode} · {compute.state}</span>
      </div>
      <dl className="kv">
        <dt>Host</dt><dd className="mono">{c.host}</dd>
        <dt>Port</dt><dd className="mono">{c.port}</dd>
        <dt>User</dt><dd className="mono">{c.user}</dd>
        <dt>Password</dt>
        <dd>
          <span className="mono" data-testid="password">{show ? c.password : MASK}</span>{' '}
          {admin ? (
            <button type="button" className="secondary" data-testid="reveal" disabled={!hydrated} onClick={toggle}>
              {revealed ? 'Hide' : 'Reveal'}
            </button>
          ) : (
            <span className="hint">admins only</span>
          )}
        </dd>
        <dt>URL</dt>
        <dd><span className="mono" data-testid="connection-url">{url}</span> <CopyButton text={url} testId="copy-url" /></dd>
        <dt>Command</dt>
        <dd><code className="mono command" data-testid="connection-command">{command}</code> <CopyButton text={command} testId="copy-command" /></dd>
      </dl>
      <ErrorBox error={error} />
      {!show ? <div className="hint">{admin ? 'Reveal the password to copy a command that does not prompt for it.' : '-p prompts for the password.'}</div> : null}
    </div>
  );
}
