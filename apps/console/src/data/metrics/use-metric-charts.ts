'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc';
import { metricChartsQuery } from './queries';

/** The scraper stores samples every few seconds: polled at about its pace. */
export function useMetricCharts() {
  const trpc = useTRPC();
  return useQuery({ ...metricChartsQuery(trpc), refetchInterval: 5_000 });
}
