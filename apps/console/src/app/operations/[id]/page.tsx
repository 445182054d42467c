import { notFound } from 'next/navigation';
import { z } from 'zod';
import { Prefetch } from '../../../components/prefetch';
import { operationQuery } from '../../../data/operations/queries';
import { OperationView } from './operation-view';

export default async function OperationPage({ params }: { params: Promise<{ id: string }> }) {
  // Operation ids are UUIDs (the router checks the same): anything else is no operation.
  const id = z.string().uuid().safeParse((await params).id);
  if (!id.success) notFound();
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(operationQuery(trpc, id.data))]}>
      <OperationView id={id.data} />
    </Prefetch>
  );
}
