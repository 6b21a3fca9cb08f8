// The kernel state the dataplane wants, as plain data. `desired()` builds it from the policy, the
// steering decisions and what the kernel has told us about the uplinks; `diff()` compares it with
// what the kernel holds. Everything here is owned by us (see ownership.ts): nothing else is ever
// described, compared or touched.

export type Family = 4 | 6

/** A path is one way out for a class: straight out of an uplink, through a tunnel, or nowhere. */
export interface PathInfo {
  name: string
  kind: 'direct' | 'tunnel' | 'drop'
  /** 1-based; the value in the path field of the fwmark. The drop path takes the field's top value. */
  id: number
  table: number
  /** The uplink this path leaves by (the tunnel's underlay for tunnel paths); absent for drop. */
  uplink?: string
  tunnel?: string
  /** The kernel device packets of this path leave through. */
  device?: string
}

export interface ClassInfo {
  name: string
  /** 1-based; the value in the class field of the fwmark. */
  id: number
}

/** How the bits under the owned fwmark mask are split: class id in the low half, path id in the high half. */
export interface MarkLayout {
  mask: number
  classMask: number
  classShift: number
  pathMask: number
  pathShift: number
}

/** A fib rule we own: `from`-source or fwmark selector, always `lookup <table>`. */
export interface FibRule {
  family: Family
  priority: number
  /** Source prefix (uplink address rules). */
  src?: string
  fwmark?: number
  fwmask?: number
  table: number
  /** Why the rule exists, for plans and logs; not part of the kernel identity. */
  comment: string
}

export interface Route {
  family: Family
  table: number
  dst: string
  type: 'unicast' | 'blackhole'
  gateway?: string
  device?: string
  /** Lower wins; blackhole fallbacks sit at the top of the range. */
  metric: number
  comment: string
}

export interface GreLink {
  kind: 'gre' | 'ip6gre'
  name: string
  local: string
  remote: string
  key?: number
  ttl: number
  mtu: number
  innerAddresses: string[]
}

/**
 * A unicast VXLAN link to one hub (RFC 7348): an Ethernet segment of two, so the inner remote address
 * is a real next hop (routes through it carry a gateway). Learning is always off: the only peer is
 * `remote`, through the kernel's all-zeros default FDB entry.
 */
export interface VxlanLink {
  name: string
  vni: number
  local: string
  remote: string
  /** UDP destination port (IANA 4789; Linux's own default without one is 8472). */
  port: number
  ttl: number
  mtu: number
  innerAddresses: string[]
}

/** The state an IPsec conn must reach; the tunnels layer renders it into VICI load-conn. */
export interface IpsecConn {
  name: string
  uplink: string
  /** The device the class traffic enters (xfrm interface, libipsec TUN, or the GRE link inside ESP). */
  device: string
  local?: string
  remote: string
  transport: 'tunnel' | 'transport'
  innerLocal: string[]
  mtu: number
}

export interface DesiredState {
  paths: PathInfo[]
  classes: ClassInfo[]
  marks: MarkLayout
  rules: FibRule[]
  routes: Route[]
  greLinks: GreLink[]
  vxlanLinks: VxlanLink[]
  ipsecConns: IpsecConn[]
  /** Our whole nftables table, as `nft -f` input that replaces it in one transaction. */
  nft: string
  /** The nft table's name (family inet) and the digest its comment carries (see nft-ruleset.ts). */
  nftTable: string
  nftDigest: string
}

/**
 * What the kernel told us about an uplink: for DHCP-learned uplinks the only source of addresses and
 * gateways; for static ones it confirms the policy. `up` is carrier plus an address.
 */
export interface UplinkFacts {
  up: boolean
  addresses: string[]
  gateway4?: string
  gateway6?: string
  mtu: number
}
export type Facts = Record<string, UplinkFacts>

/** The steering engine's answer for one class (see edge/steering). */
export interface Decision {
  class: string
  /** Paths new flows take, best first; weights matter in weighted mode. Empty: drop (fail closed). */
  active: Array<{ path: string; weight: number }>
  /** Paths on which this class's existing flows may stay (sticky): up and meeting the SLA. */
  keep: string[]
  reason: string
}
