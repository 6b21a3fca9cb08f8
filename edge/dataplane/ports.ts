// The side-effect boundary of the dataplane: what the reconciler needs from the kernel. Implemented
// over rtnetlink (rtnl/port.ts) and nft (nft/port.ts) for real, and by a fake in the tests.
import type { KernelError } from './errors.js'
import type { DataplaneSettings } from '../config/policy.js'
import type { ActualState, KernelOp } from './ops.js'
import type { FibRule, Route } from './model.js'

/** The kernel objects we own (policy `dataplane` section) and the tunnel device prefix. */
export interface Ownership {
  rulePriorities: { from: number; to: number }
  tables: { from: number; to: number }
  routeProtocol: number
  nftTable: string
  /** Our GRE links are the ones whose name starts with this (layout.ts tunnelDevice). */
  tunnelPrefix: string
}

export const ownershipOf = (d: DataplaneSettings): Ownership => ({
  rulePriorities: d.rulePriorities,
  tables: d.tables,
  routeProtocol: d.routeProtocol,
  nftTable: d.nftTable,
  tunnelPrefix: 'sw-',
})

/** A link as the kernel reports it. */
export interface LinkState {
  name: string
  index: number
  /** IFF_UP: administratively up. */
  up: boolean
  /** IFF_LOWER_UP: carrier. */
  carrier: boolean
  mtu: number
}

/** The uplink facts the kernel can tell: links, their addresses, and main-table default routes (DHCP's). */
export interface KernelFacts {
  links: LinkState[]
  /** `addr/len` per link name. */
  addresses: Array<{ link: string; family: 4 | 6; address: string }>
  defaultRoutes: Array<{ link: string; family: 4 | 6; gateway: string }>
}

/** Something changed that may concern us: an object in our ranges came or went, or a link/address changed. */
export type KernelEvent =
  | { kind: 'rule-added' | 'rule-deleted'; rule: FibRule }
  | { kind: 'route-added' | 'route-deleted'; route: Route }
  | { kind: 'link-changed' | 'address-changed'; link: string }

export interface KernelPort {
  /** Everything we own (rules in our priority range, our-protocol routes in our tables, our GRE links). */
  dump(): Promise<Omit<ActualState, 'nftDigest'>>
  /**
   * Applies the operations in order; the i-th result is undefined on success or the error. EEXIST on
   * an add and ENOENT/ESRCH on a delete count as success (the object is already as wanted).
   */
  apply(ops: readonly KernelOp[]): Promise<Array<KernelError | undefined>>
  facts(): Promise<KernelFacts>
  /** Calls `listener` for kernel notifications that may concern us; returns the unsubscribe. */
  watch(listener: (e: KernelEvent) => void): () => void
  close(): void
}

export interface NftPort {
  /** The digest in our table's comment, null when the table does not exist. */
  digest(table: string): Promise<string | null>
  /**
   * Replaces our table with `text` in one transaction (the old one stays if nft rejects the new one).
   * With `after`, the new table takes effect only once `after` settles (preparation may start sooner).
   */
  load(table: string, text: string, after?: Promise<unknown>): Promise<void>
  /** Removes our table; no error when it does not exist. */
  remove(table: string): Promise<void>
}

export interface ConntrackPort {
  /** Deletes the conntrack entries whose mark is `mark` under `mask` (both families). */
  evict(mark: number, mask: number): Promise<void>
}
