/**
 * A safekeeper's consensus state of one timeline, read from its admin
 * status (GET …/timelines/:id) with terms and LSNs as bigints: what the
 * hostile-input tests compare before and after an attack.
 */
export interface ConsensusState {
  term: bigint;
  termHistory: { term: bigint; lsn: bigint }[];
  conf: { generation: number; members: number[]; newMembers?: number[] };
  flushLsn: bigint;
  commitLsn: bigint;
}

interface StatusJson {
  term: string;
  termHistory: { term: string; lsn: string }[];
  conf: ConsensusState['conf'];
  flushLsn: string;
  commitLsn: string;
}

/** GET `url` (a timeline's status) with `token`; throws on anything but 200. */
export async function fetchConsensusState(url: string, token: string): Promise<ConsensusState> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  const st = (await res.json()) as StatusJson;
  return {
    term: BigInt(st.term),
    termHistory: st.termHistory.map((e) => ({ term: BigInt(e.term), lsn: BigInt(e.lsn) })),
    conf: st.conf,
    flushLsn: BigInt(st.flushLsn),
    commitLsn: BigInt(st.commitLsn),
  };
}
