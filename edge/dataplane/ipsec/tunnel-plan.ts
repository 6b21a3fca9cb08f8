// From one IPsec conn of the desired state and the policy it came from to everything its charon needs:
// the strongswan.conf instance (ports, VICI socket, anchor table) and the tunnel to load over VICI.
// Pure: secrets and certificates are read by the caller and passed in.
import { join } from 'node:path'
import type { SitePolicy } from '../../config/policy.js'
import type { IpsecConn } from '../model.js'
import type { CharonInstance } from './charon-config.js'
import type { IpsecTunnel, TunnelAuth } from './tunnel-conn.js'
import type { TunAdoption } from './tun-device.js'

export interface TunnelPlanOptions {
  /** Generated configs and VICI sockets go here (e.g. /run/sdwan-edge/charon). */
  readonly runDir: string
  /** Slot s gets IKE port base + 2s and NAT-T port base + 2s + 1. */
  readonly ikePortBase: number
  /** The hub's IKE port for a tunnel (4500 for a real hub, see node-tunnels.ts). Per tunnel so test hubs
   *  can run one libipsec responder per tunnel on ports of its own. */
  readonly hubIkePort: (tunnel: string) => number
  /** The table libipsec's own routes go to for slot s, and the priority of the rule charon adds for it. */
  readonly anchorTable: (slot: number) => number
  readonly anchorRulePriority: (slot: number) => number
  readonly retransmit?: CharonInstance['retransmit']
  readonly logLevel?: number
}

/**
 * kernel-netlink adds `fwmark <mark> lookup <routing_table>` at start; libipsec's routes in that table must
 * never carry traffic (our path tables route into the tunnel device), so the rule asks for a mark with every
 * bit set, which no mask we own can produce.
 */
export const INERT_RULE_FWMARK = '0xffffffff/0xffffffff'

/**
 * libipsec sets its TUN's MTU to 1400 when it creates it (kernel_libipsec_plugin.c, TUN_DEFAULT_MTU) and
 * reads packets into buffers of that cached size (tun_device.c read_packet → get_mtu): a larger MTU on
 * the device lets the kernel hand it packets libipsec truncates, which the peer then drops. Measured on
 * 5.9.8: at MTU 1435 a 1420-byte ping leaves as a 1400-byte inner packet and never returns; at 1400,
 * 1400 bytes cross and 1401 get "message too long" locally (so TCP clamps its MSS to fit, nft rt mtu).
 */
export const LIBIPSEC_TUN_MTU = 1400

export interface TunnelPlan {
  readonly instance: CharonInstance
  readonly tunnel: IpsecTunnel
  /** The device and addresses the TUN must get (layout.ts tunnelDevice, inner addresses). */
  readonly device: Omit<TunAdoption, 'tun'>
}

export class TunnelPlanError extends Error {
  override readonly name = 'TunnelPlanError'
  constructor(
    readonly tunnel: string,
    problem: string,
  ) {
    super(`IPsec tunnel "${tunnel}": ${problem}`)
  }
}

const host = (prefix: string): string => {
  const address = prefix.split('/')[0]!
  return `${address}/${address.includes(':') ? 128 : 32}`
}

/** The auth files a tunnel names, for the caller to read. */
export function authFiles(policy: SitePolicy, tunnelName: string): { pskFile: string } | { certFile: string; keyFile: string; caFile: string } {
  const t = policy.tunnels.find(x => x.name === tunnelName)
  if (!t?.ipsec) throw new TunnelPlanError(tunnelName, 'has no ipsec settings in the policy')
  return t.ipsec.auth
}

export function planTunnel(policy: SitePolicy, conn: IpsecConn, slot: number, auth: TunnelAuth, options: TunnelPlanOptions): TunnelPlan {
  const t = policy.tunnels.find(x => x.name === conn.name)
  if (!t?.ipsec) throw new TunnelPlanError(conn.name, 'has no ipsec settings in the policy')
  if (!conn.local) throw new TunnelPlanError(conn.name, `uplink ${conn.uplink} has no address of the hub's family yet`)
  if (conn.transport !== 'tunnel') throw new TunnelPlanError(conn.name, 'gre-over-ipsec needs kernel GRE, which this kernel lacks (issue 5)')
  const hub = policy.hubs.find(h => h.name === t.hub)
  if (!hub) throw new TunnelPlanError(conn.name, `names hub "${t.hub}", which the policy lacks`)
  const ikePort = options.ikePortBase + 2 * slot
  if (ikePort + 1 > 65535) throw new TunnelPlanError(conn.name, `slot ${slot} needs IKE ports ${ikePort}/${ikePort + 1}, past 65535; lower ikePortBase`)
  // An isolated segment (guest) never enters a tunnel: its prefixes stay out of the selectors, so even a
  // misrouted guest packet finds no policy in libipsec and is dropped there.
  const lanPrefixes = policy.lan.filter(s => !s.isolated).flatMap(s => s.prefixes)
  const innerRemote = [t.inner.remote, t.inner.remote6].filter((x): x is string => !!x)
  return {
    instance: {
      name: conn.name,
      confPath: join(options.runDir, `${conn.name}.strongswan.conf`),
      viciSocketPath: join(options.runDir, `${conn.name}.vici`),
      ikePort,
      natTPort: ikePort + 1,
      routingTable: options.anchorTable(slot),
      routingTablePrio: options.anchorRulePriority(slot),
      installRoutes: false,
      routeRuleFwmark: INERT_RULE_FWMARK,
      // No socket fwmark: socket-default sends IKE and ESP-in-UDP from the conn's local address
      // (IP_PKTINFO), so the dataplane's `from <uplink address> lookup <uplink table>` rule already takes
      // them out of the tunnel's uplink (the lab counts them at the bb and lte providers).
      ...(options.retransmit ? { retransmit: options.retransmit } : {}),
      ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    },
    tunnel: {
      name: conn.name,
      local: { address: conn.local, ikePort, id: t.ipsec.localId ?? policy.device.id },
      remote: { address: conn.remote, ikePort: options.hubIkePort(conn.name), id: hub.ikeId ?? conn.remote },
      auth,
      localTs: [...lanPrefixes, ...conn.innerLocal.map(host)],
      remoteTs: [...t.remotePrefixes, ...innerRemote.map(host)],
      ikeProposals: t.ipsec.ikeProposals,
      espProposals: t.ipsec.espProposals,
      dpdDelaySec: t.ipsec.dpdDelayS,
    },
    device: { name: conn.device, mtu: Math.min(conn.mtu, LIBIPSEC_TUN_MTU), addresses: conn.innerLocal },
  }
}

/** The lowest slot no other tunnel holds; slots keep a tunnel's ports and table while it exists. */
export function freeSlot(taken: Iterable<number>): number {
  const used = new Set(taken)
  let slot = 0
  while (used.has(slot)) slot++
  return slot
}
