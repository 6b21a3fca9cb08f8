// The seed's retail branch as pure data: which namespaces exist, how they are wired, their addresses and
// routes, and each provider's latency profile. lab-network.ts builds it; tests and the daemon's scenarios
// read the addresses from here instead of repeating them.
//
//  pos ─┐                          ┌─ bb ───┐
//       ├ br-store ┐               │        ├─ inet (public internet, 203.0.113.100)
//  voip ┘          ├── edge ───────┼─ lte ──┤
//  guest ── br-guest┘               │        └─ hub (data centre: public 203.0.113.10, DC 10.20.0.10)
//                                  └─ mpls ─────┘ (private L3VPN: hub 172.20.2.2)
//
// Every address sits in the documentation or private ranges and lives only inside the lab's namespaces.
// Broadband and LTE customer blocks are "public" in the lab (192.0.2.0/24, 198.51.100.0/24) and the inet
// namespace routes them back to their provider, so a reply always returns through the provider that
// carried the request: the far side sees which uplink was used from the source address alone.
import { PROVIDER_PROFILES, type ProviderProfile } from './provider-profiles.js'

export type ProviderName = 'bb' | 'lte' | 'mpls'
export type ClientName = 'pos' | 'voip' | 'guest'
export type NodeName = 'edge' | ClientName | ProviderName | 'hub' | 'inet'

export const PROVIDERS: readonly ProviderName[] = ['bb', 'lte', 'mpls']
export const CLIENTS: readonly ClientName[] = ['pos', 'voip', 'guest']
export const NODES: readonly NodeName[] = ['edge', 'pos', 'voip', 'guest', 'bb', 'lte', 'mpls', 'hub', 'inet']

export interface Endpoint {
  readonly node: NodeName
  readonly ifname: string
  /** CIDR, or absent for a bridge port. */
  readonly address?: string
}

export interface VethLink {
  readonly a: Endpoint
  readonly b: Endpoint
  /** A bridge in `a.node` that `a.ifname` joins as a port. */
  readonly bridgeA?: string
}

export interface Bridge {
  readonly node: NodeName
  readonly name: string
  readonly address: string
}

export interface Route {
  readonly node: NodeName
  readonly to: string
  readonly via: string
  readonly dev: string
  readonly metric?: number
}

export interface LoopbackAddress {
  readonly node: NodeName
  readonly address: string
}

export interface Uplink {
  readonly provider: ProviderName
  /** The edge's interface on this provider. */
  readonly ifname: string
  /** The edge's address on it (plain, no prefix length). */
  readonly address: string
  readonly prefixLength: number
  /** The provider's router on the access link: the edge's next hop. */
  readonly gateway: string
  /** The provider's interface facing the edge: where carrier loss, netem downstream and counters act. */
  readonly providerIfname: string
  /** The provider's interface facing the far side (inet or hub): netem upstream. */
  readonly coreIfname: string
  readonly profile: ProviderProfile
}

export interface Topology {
  readonly prefix: string
  /** Node → its network namespace name, `${prefix}${node}`. */
  readonly namespaces: Readonly<Record<NodeName, string>>
  readonly bridges: readonly Bridge[]
  readonly links: readonly VethLink[]
  readonly loopbacks: readonly LoopbackAddress[]
  readonly routes: readonly Route[]
  /** Nodes with net.ipv4.ip_forward=1. */
  readonly routers: readonly NodeName[]
  readonly uplinks: Readonly<Record<ProviderName, Uplink>>
  /** Uplinks the edge masquerades on (local internet breakout, as a branch CPE does). */
  readonly masqueradeOn: readonly ProviderName[]
  /** Addresses scenarios talk to. */
  readonly addresses: {
    readonly clients: Readonly<Record<ClientName, string>>
    readonly storeGateway: string
    readonly guestGateway: string
    /** The hub's internet address: tunnel endpoint over bb and lte. */
    readonly hubPublic: string
    /** The hub's MPLS address: tunnel endpoint over mpls. */
    readonly hubMpls: string
    /** A data-centre service behind the hub (e.g. the payment host, the MQTT broker). */
    readonly hubService: string
    /** A public internet host. */
    readonly internetHost: string
  }
}

export class TopologyPrefixError extends Error {
  override readonly name = 'TopologyPrefixError'
}

/**
 * Prefixes keep parallel labs apart; teardown finds leftovers by them. Namespace names become files in
 * /run/netns, and a prefix must not be another's prefix plus a node name, hence the trailing dash.
 */
export function checkPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9]{0,15}-$/.test(prefix)) {
    throw new TopologyPrefixError(
      `lab prefix "${prefix}" must be a lowercase letter, up to 15 more letters/digits, and end with "-" (e.g. "lab7-")`,
    )
  }
}

const STORE = { net: '10.10.1', gateway: '10.10.1.1', pos: '10.10.1.10', voip: '10.10.1.20' }
const GUEST = { net: '10.10.2', gateway: '10.10.2.1', guest: '10.10.2.10' }
const BRANCH_LANS = '10.10.0.0/16'
const DATA_CENTRE = '10.20.0.0/16'
const MPLS_CLOUD = '172.20.0.0/16'

function uplink(provider: ProviderName, network: string): Uplink {
  return {
    provider,
    ifname: `wan-${provider}`,
    address: `${network}.2`,
    prefixLength: 29,
    gateway: `${network}.1`,
    providerIfname: 'cust',
    coreIfname: 'core',
    profile: PROVIDER_PROFILES[provider],
  }
}

export function retailBranch(prefix: string): Topology {
  checkPrefix(prefix)
  const namespaces = Object.fromEntries(NODES.map(node => [node, `${prefix}${node}`])) as Record<NodeName, string>
  const uplinks: Record<ProviderName, Uplink> = {
    bb: uplink('bb', '192.0.2'),
    lte: uplink('lte', '198.51.100'),
    mpls: uplink('mpls', '172.20.1'),
  }
  const access = (u: Uplink): VethLink => ({
    a: { node: 'edge', ifname: u.ifname, address: `${u.address}/${u.prefixLength}` },
    b: { node: u.provider, ifname: u.providerIfname, address: `${u.gateway}/${u.prefixLength}` },
  })
  const lanPort = (ifname: string, bridge: string, client: ClientName, address: string): VethLink => ({
    a: { node: 'edge', ifname },
    b: { node: client, ifname: 'eth0', address: `${address}/24` },
    bridgeA: bridge,
  })
  return {
    prefix,
    namespaces,
    bridges: [
      { node: 'edge', name: 'br-store', address: `${STORE.gateway}/24` },
      { node: 'edge', name: 'br-guest', address: `${GUEST.gateway}/24` },
    ],
    links: [
      lanPort('store-pos', 'br-store', 'pos', STORE.pos),
      lanPort('store-voip', 'br-store', 'voip', STORE.voip),
      lanPort('guest-laptop', 'br-guest', 'guest', GUEST.guest),
      access(uplinks.bb),
      access(uplinks.lte),
      access(uplinks.mpls),
      { a: { node: 'bb', ifname: 'core', address: '203.0.113.2/30' }, b: { node: 'inet', ifname: 'bb', address: '203.0.113.1/30' } },
      { a: { node: 'lte', ifname: 'core', address: '203.0.113.6/30' }, b: { node: 'inet', ifname: 'lte', address: '203.0.113.5/30' } },
      { a: { node: 'hub', ifname: 'inet', address: '203.0.113.10/30' }, b: { node: 'inet', ifname: 'hub', address: '203.0.113.9/30' } },
      { a: { node: 'mpls', ifname: 'core', address: '172.20.2.1/29' }, b: { node: 'hub', ifname: 'mpls', address: '172.20.2.2/29' } },
    ],
    loopbacks: [
      { node: 'inet', address: '203.0.113.100/32' },
      { node: 'hub', address: '10.20.0.10/32' },
    ],
    routes: [
      ...(['pos', 'voip'] as const).map((node): Route => ({ node, to: 'default', via: STORE.gateway, dev: 'eth0' })),
      { node: 'guest', to: 'default', via: GUEST.gateway, dev: 'eth0' },
      // What the branch had before the SD-WAN daemon: DHCP defaults with metrics, static routes to the DC over MPLS.
      { node: 'edge', to: 'default', via: uplinks.bb.gateway, dev: 'wan-bb', metric: 100 },
      { node: 'edge', to: 'default', via: uplinks.lte.gateway, dev: 'wan-lte', metric: 200 },
      { node: 'edge', to: DATA_CENTRE, via: uplinks.mpls.gateway, dev: 'wan-mpls' },
      { node: 'edge', to: MPLS_CLOUD, via: uplinks.mpls.gateway, dev: 'wan-mpls' },
      { node: 'bb', to: 'default', via: '203.0.113.1', dev: 'core' },
      { node: 'lte', to: 'default', via: '203.0.113.5', dev: 'core' },
      { node: 'mpls', to: BRANCH_LANS, via: uplinks.mpls.address, dev: 'cust' },
      { node: 'mpls', to: DATA_CENTRE, via: '172.20.2.2', dev: 'core' },
      { node: 'inet', to: '192.0.2.0/24', via: '203.0.113.2', dev: 'bb' },
      { node: 'inet', to: '198.51.100.0/24', via: '203.0.113.6', dev: 'lte' },
      { node: 'hub', to: 'default', via: '203.0.113.9', dev: 'inet' },
      { node: 'hub', to: BRANCH_LANS, via: '172.20.2.1', dev: 'mpls' },
      { node: 'hub', to: MPLS_CLOUD, via: '172.20.2.1', dev: 'mpls' },
    ],
    routers: ['edge', 'bb', 'lte', 'mpls', 'inet', 'hub'],
    uplinks,
    masqueradeOn: ['bb', 'lte'],
    addresses: {
      clients: { pos: STORE.pos, voip: STORE.voip, guest: GUEST.guest },
      storeGateway: STORE.gateway,
      guestGateway: GUEST.gateway,
      hubPublic: '203.0.113.10',
      hubMpls: '172.20.2.2',
      hubService: '10.20.0.10',
      internetHost: '203.0.113.100',
    },
  }
}
