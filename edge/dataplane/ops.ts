// What the kernel holds of ours, and the operations that move it toward the desired state. Pure data.
import type { FibRule, GreLink, Route, VxlanLink } from './model.js'

/** Everything we own that the kernel holds right now (comments are empty: the kernel has none). */
export interface ActualState {
  rules: FibRule[]
  routes: Route[]
  greLinks: GreLink[]
  vxlanLinks: VxlanLink[]
  /** Digest in our nft table's comment; null when the table does not exist. */
  nftDigest: string | null
}

export const EMPTY_ACTUAL: ActualState = { rules: [], routes: [], greLinks: [], vxlanLinks: [], nftDigest: null }

/** One kernel operation on an rtnetlink object. */
export type KernelOp =
  | { kind: 'add-rule'; rule: FibRule }
  | { kind: 'del-rule'; rule: FibRule }
  | { kind: 'add-route'; route: Route }
  /** Same identity (table, family, dst, metric), other next hop or type: NLM_F_REPLACE in place. */
  | { kind: 'replace-route'; route: Route }
  | { kind: 'del-route'; route: Route }
  | { kind: 'add-gre'; link: GreLink }
  | { kind: 'del-gre'; link: GreLink }
  | { kind: 'add-vxlan'; link: VxlanLink }
  | { kind: 'del-vxlan'; link: VxlanLink }

export type NftOp = { kind: 'load-nft'; table: string; text: string; digest: string } | { kind: 'delete-nft'; table: string }

export type Op = KernelOp | NftOp

export const isNftOp = (op: Op): op is NftOp => op.kind === 'load-nft' || op.kind === 'delete-nft'

// Keys are memoised per object: model objects are never mutated, and a re-steer diffs thousands of
// unchanged objects against the same objects again.
function memo<T extends object>(fn: (x: T) => string): (x: T) => string {
  const cache = new WeakMap<T, string>()
  return x => {
    let k = cache.get(x)
    if (k === undefined) cache.set(x, (k = fn(x)))
    return k
  }
}

/** Kernel identity of a fib rule: every selector and the table (the kernel matches all of them on delete). */
export const ruleKey = memo((r: FibRule): string => `${r.family}|${r.priority}|${r.src ?? '-'}|${r.fwmark ?? '-'}/${r.fwmask ?? '-'}|${r.table}`)

/** Kernel identity of a route (fib_table_insert / ip6_ins_rt treat equal table, dst and metric as the same route). */
export const routeKey = memo((r: Route): string => `${r.family}|${r.table}|${r.dst}|${r.metric}`)

/** What a route does, beyond its identity. */
export const routeBody = memo((r: Route): string => `${r.type}|${r.gateway ?? '-'}|${r.device ?? '-'}`)

export const greBody = (l: GreLink): string =>
  `${l.kind}|${l.local}|${l.remote}|${l.key ?? '-'}|${l.ttl}|${l.mtu}|${[...l.innerAddresses].sort().join(',')}`

export const vxlanBody = (l: VxlanLink): string =>
  `${l.vni}|${l.local}|${l.remote}|${l.port}|${l.ttl}|${l.mtu}|${[...l.innerAddresses].sort().join(',')}`

/** One line per op, for logs, plans and golden files. */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'add-rule':
    case 'del-rule':
      return `${op.kind} ${describeRule(op.rule)}`
    case 'add-route':
    case 'replace-route':
    case 'del-route':
      return `${op.kind} ${describeRoute(op.route)}`
    case 'add-gre':
    case 'del-gre':
      return `${op.kind} ${op.link.name} ${op.link.kind} ${op.link.local} -> ${op.link.remote}`
    case 'add-vxlan':
    case 'del-vxlan':
      return `${op.kind} ${op.link.name} vni ${op.link.vni} ${op.link.local} -> ${op.link.remote}:${op.link.port}`
    case 'load-nft':
      return `load-nft inet ${op.table} (${op.digest})`
    case 'delete-nft':
      return `delete-nft inet ${op.table}`
  }
}

const hex = (n: number): string => '0x' + n.toString(16)

export function describeRule(r: FibRule): string {
  const sel = r.src ? `from ${r.src}` : r.fwmark !== undefined ? `fwmark ${hex(r.fwmark)}/${hex(r.fwmask ?? 0xffffffff)}` : 'from all'
  return `ipv${r.family} pref ${r.priority} ${sel} lookup ${r.table}`
}

export function describeRoute(r: Route): string {
  const via = r.type === 'blackhole' ? 'blackhole' : `${r.gateway ? `via ${r.gateway} ` : ''}dev ${r.device ?? '?'}`
  return `ipv${r.family} table ${r.table} ${r.dst} ${via} metric ${r.metric}`
}
