import { QueryClient } from '@tanstack/react-query';

/** The browser's cache and each server prefetch use one configuration, so a hydrated query ages like a fetched one. */
export function makeQueryClient(): QueryClient {
  // Cluster state moves: fresh for 2 s (pages poll on top); no retries, so a service's error shows at once.
  return new QueryClient({ defaultOptions: { queries: { staleTime: 2_000, retry: false } } });
}
