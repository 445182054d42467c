'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { metricChartsQuery } from './queries';

/** The scraper stores samples every few seconds: polled at about its pace. */
export function useMetricCharts(sinceMs: number) {
  const trpc = useTRPC();
  return useQuery({ ...metricChartsQuery(trpc, sinceMs), refetchInterval: 5_000 });
}
