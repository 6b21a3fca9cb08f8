// Evicting one (class, path) pair's flows from conntrack, and nothing else: `conntrack -D --mark
// VALUE/MASK` deletes only entries whose ct mark has exactly that class|path under our mask.
//
// Why evict at all, when removing the sticky rule already re-routes the flow: a flow's NAT binding
// is fixed in its conntrack entry. The kernel copes for masqueraded flows by itself (nf_nat_inet_fn
// kills a masqueraded entry whose output interface changed, dropping that packet:
// nf_nat_oif_changed), but a flow that left un-NATed (MPLS) would otherwise keep leaving un-NATed on
// a NAT uplink, with its private source. With the entry gone, the next packet is a new flow:
// classified, routed to the class's current path, NATed there.
import type { ConntrackPort } from './ports.js'
import { spawnProcess, type RunProcess } from './process.js'
import { hex32 } from './marks.js'

/** `conntrack -D` reports its count on stderr and exits 1 when it deleted nothing. */
export function parseDeleted(stderr: string): number | undefined {
  const m = /(\d+) flow entries have been deleted/.exec(stderr)
  return m ? Number(m[1]) : undefined
}

export class ConntrackCliPort implements ConntrackPort {
  constructor(
    private readonly run: RunProcess = spawnProcess,
    private readonly conntrack = 'conntrack',
  ) {}

  async evict(mark: number, mask: number): Promise<number> {
    let total = 0
    for (const family of ['ipv4', 'ipv6']) {
      const r = await this.run(this.conntrack, ['-D', '-f', family, '--mark', `${hex32(mark)}/${hex32(mask)}`], '')
      const n = parseDeleted(r.stderr)
      if (n === undefined) throw new Error(`conntrack -D failed (exit ${r.code}): ${r.stderr.trim()}`)
      total += n
    }
    return total
  }
}
