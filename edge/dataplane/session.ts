// A reconciler wired to the real kernel, for one-shot commands (apply, stop) and the daemon.
import type { SitePolicy } from '../config/policy.js'
import { NftCliPort } from './nft/port.js'
import { CtnetlinkConntrackPort } from './conntrack.js'
import { ownershipOf, type Ownership } from './ports.js'
import { Reconciler, type DataplaneLog } from './reconciler.js'
import { RtnlKernelPort } from './rtnl/port.js'

/** The schema's `dataplane` defaults: what `stop --flush` removes when no policy names other ranges. */
export const DEFAULT_OWNERSHIP: Ownership = {
  rulePriorities: { from: 10000, to: 10999 },
  tables: { from: 1000, to: 1999 },
  routeProtocol: 201,
  nftTable: 'sdwan',
  tunnelPrefix: 'sw-',
}

export interface KernelSession {
  kernel: RtnlKernelPort
  reconciler: Reconciler
  close(): void
}

export function openKernelSession(own: Ownership, log: DataplaneLog): KernelSession {
  const kernel = new RtnlKernelPort(own)
  const reconciler = new Reconciler({ kernel, nft: new NftCliPort(), conntrack: new CtnetlinkConntrackPort(), own, log, now: () => performance.now(), timers: { setTimeout, clearTimeout } })
  return {
    kernel,
    reconciler,
    close: () => {
      reconciler.stop()
      kernel.close()
    },
  }
}

export const ownershipFor = (policy: SitePolicy | undefined): Ownership => (policy ? ownershipOf(policy.dataplane) : DEFAULT_OWNERSHIP)
