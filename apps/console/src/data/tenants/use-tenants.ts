'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { tenantsQuery } from './queries';

/** Tenants change only through operations, which refresh them when they end. */
export function useTenants() {
  const trpc = useTRPC();
  return useQuery(tenantsQuery(trpc));
}
