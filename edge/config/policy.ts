// The site policy as the daemon sees it after validation: every default filled in (see
// policies/schema/site-policy.schema.json, the one source of truth for field meaning and ranges).

export type UplinkKind = 'broadband' | 'lte' | 'mpls'
export type TunnelType = 'ipsec' | 'gre' | 'gre-over-ipsec' | 'vxlan'

export interface SitePolicy {
  version: 1
  serial: number
  site: { id: string; name?: string; location?: string }
  device: { id: string; role: 'edge' | 'hub' }
  lan: LanSegment[]
  uplinks: Uplink[]
  hubs: Hub[]
  tunnels: Tunnel[]
  classes: AppClass[]
  probes: ProbeSettings
  telemetry?: TelemetrySettings
  dataplane: DataplaneSettings
}

export interface LanSegment {
  name: string
  interface: string
  prefixes: string[]
  isolated: boolean
}

export type UplinkAddressing =
  | { mode: 'dhcp' }
  | { mode: 'static'; ipv4?: string; gateway4?: string; ipv6?: string; gateway6?: string }

export interface Uplink {
  name: string
  kind: UplinkKind
  interface: string
  addressing: UplinkAddressing
  metered: boolean
  cost: number
  nat: boolean
  bandwidth?: { downMbps?: number; upMbps?: number }
}

export interface Hub {
  name: string
  addresses: string[]
  ikeId?: string
  reflectorPort: number
}

export type IkeAuth = { pskFile: string } | { certFile: string; keyFile: string; caFile: string }

export interface Tunnel {
  name: string
  type: TunnelType
  hub: string
  uplink: string
  remote?: string
  inner: { local: string; remote: string; local6?: string; remote6?: string }
  remotePrefixes: string[]
  gre?: { key?: number; ttl: number }
  vxlan?: { vni: number; port: number; ttl: number }
  ipsec?: {
    auth: IkeAuth
    localId?: string
    ikeProposals: string[]
    espProposals: string[]
    dpdDelayS: number
  }
  mtu?: number
}

export type Protocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'sctp' | 'gre' | 'esp'

export interface Selector {
  segments?: string[]
  dscp?: number[]
  protocol?: Protocol
  ports?: Array<number | string>
  sourcePrefixes?: string[]
  destinationPrefixes?: string[]
  domains?: string[]
}

export type PathRef = string | { via: string; weight?: number }

export interface Sla {
  maxLatencyMs?: number
  maxJitterMs?: number
  maxLossPct?: number
  minMos?: number
}

export interface AppClass {
  name: string
  description?: string
  match: Selector[]
  sla?: Sla
  mode: 'priority' | 'weighted'
  paths: PathRef[]
  whenNoPath: 'drop' | 'best-effort'
  failover: {
    holdDownMs: number
    failbackDelayMs: number
    maxFailbackDelayMs: number
    brownoutConfirmMs: number
    sticky: boolean
  }
}

export interface ProbeSettings {
  port: number
  intervalMs: number
  meteredIntervalMs: number
  timeoutMs: number
  windowSize: number
  downAfterMisses: number
  upAfterReplies: number
  brownout?: { latencyMs?: number; jitterMs?: number; lossPct?: number }
  authKeyFile?: string
  reflectors: Array<{ address: string; port?: number }>
  uplinks: Record<string, { intervalMs?: number; enabled: boolean; reflectors?: Array<{ address: string; port?: number }> }>
}

export interface TelemetrySettings {
  broker: string
  tls?: { caFile: string; certFile: string; keyFile: string }
  topicPrefix: string
  reportIntervalS: number
  spoolMaxMb: number
  policySigningKey?: string
}

export interface DataplaneSettings {
  rulePriorities: { from: number; to: number }
  tables: { from: number; to: number }
  /** Normalised to a number by the loader, whichever way the file wrote it. */
  fwmarkMask: number
  routeProtocol: number
  nftTable: string
}

/** The name a path reference points at, whichever form it was written in. */
export const pathName = (ref: PathRef): string => (typeof ref === 'string' ? ref : ref.via)
