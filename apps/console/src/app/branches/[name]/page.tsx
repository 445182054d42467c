import { notFound } from 'next/navigation';
import { Prefetch } from '../../../components/prefetch';
import { branchesQuery, branchQuery } from '../../../data/branches/queries';
import { computesQuery } from '../../../data/computes/queries';
import { branchName } from '../../../lib/inputs';
import { BranchView } from './branch-view';

export default async function BranchPage({ params }: { params: Promise<{ name: string }> }) {
  // The name comes from the URL: checked by the same schema as every other branch name.
  const parsed = branchName.safeParse((await params).name);
  if (!parsed.success) notFound();
  const name = parsed.data;
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(branchQuery(trpc, name)), qc.prefetchQuery(branchesQuery(trpc)), qc.prefetchQuery(computesQuery(trpc))]}>
      <BranchView name={name} />
    </Prefetch>
  );
}
