import { Prefetch } from '../../components/prefetch';
import { operatorsQuery } from '../../data/operators/queries';
import { OperatorsView } from './operators-view';

export default function OperatorsPage() {
  return (
    <Prefetch queries={(trpc, qc) => [qc.prefetchQuery(operatorsQuery(trpc))]}>
      <OperatorsView />
    </Prefetch>
  );
}
