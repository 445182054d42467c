/**
 * Who may do what on the safekeeper: the scopes of @strata/service-kit's JWT
 * auth, named per kind of route. Routes call `authorize(claims, POLICY.x)`.
 */
import type { Policy } from '@strata/service-kit';

export const POLICY = {
  /** Read or write one tenant's timelines and WAL. */
  tenantData: ['admin', 'safekeeperdata', 'tenant'],
  /** Read one tenant's timelines and committed WAL: also the page server, which ingests it. */
  walRead: ['admin', 'safekeeperdata', 'tenant', 'pageserverapi'],
  /**
   * Destructive or cross-tenant operations, and whatever changes who holds or
   * writes a timeline outside an election: membership switches and term bumps
   * (the HTTP consensus route), pulls, uncommitted WAL. Never a compute's
   * tenant token (docs/security.md).
   */
  operator: ['admin', 'safekeeperdata'],
  /** The page server's reports (remote_consistent_lsn). */
  pageserver: ['admin', 'pageserverapi'],
  /** Anyone with a valid token. */
  any: ['admin', 'safekeeperdata', 'tenant', 'pageserverapi'],
} as const satisfies Policy;
