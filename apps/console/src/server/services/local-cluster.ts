/**
 * The console's calls into the local cluster (`@strata/client/local`, the
 * same code the CLI runs): each with the console's typed errors. A refusal
 * of the cluster keeps its meaning (NOT_FOUND, CONFLICT, INVALID,
 * NO_CLUSTER); a service's reply keeps the service's code (callClient); a
 * failed membership change says which way it failed.
 */
import { LocalClusterError, type LocalClusterReason, MembershipChangeFailed } from '@strata/client/local';
import { ConsoleError, type ConsoleErrorCode } from './errors';
import { callClient, type ServiceTarget } from './http';

const CODE: Record<Exclude<LocalClusterReason, 'failed'>, ConsoleErrorCode> = {
  noCluster: 'NO_CLUSTER',
  notFound: 'NOT_FOUND',
  conflict: 'CONFLICT',
  invalid: 'INVALID',
};

const MEMBERSHIP_CODE: Partial<Record<MembershipChangeFailed['reason'], ConsoleErrorCode>> = {
  noTimeline: 'NOT_FOUND',
  unknownSafekeeper: 'INVALID',
  otherChangeInProgress: 'CONFLICT',
};

/**
 * Runs one local-cluster call. `target` is the service most of it talks to
 * (its label names a failure); `host` names what runs on this machine (a
 * compute's controller) when the failure is there rather than in a service.
 */
export async function viaLocal<T>(target: ServiceTarget, what: string, call: () => Promise<T>, host = what): Promise<T> {
  try {
    return await callClient(target, what, () => call());
  } catch (e) {
    if (e instanceof LocalClusterError) {
      // A process of this host that did not start (a compute's controller): a failed service, worth a retry.
      if (e.reason === 'failed') throw new ConsoleError('SERVICE_ERROR', `${host}: ${e.message}`, { service: host });
      throw new ConsoleError(CODE[e.reason], e.message);
    }
    if (e instanceof MembershipChangeFailed) {
      const code = MEMBERSHIP_CODE[e.reason];
      if (code) throw new ConsoleError(code, e.message);
      throw new ConsoleError('SERVICE_ERROR', `safekeepers: ${e.message}`, { service: 'safekeepers', serviceCode: e.reason });
    }
    throw e;
  }
}
