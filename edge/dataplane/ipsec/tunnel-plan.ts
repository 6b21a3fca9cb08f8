// From one IPsec conn of the desired state and the policy it came from to everything its charon needs:
// the strongswan.conf instance (ports, VICI socket, anchor table), the tunnel to load over VICI, and the
// device class traffic enters — the same policy on either IPsec backend (ipsec-backend.ts):
//   libipsec  the charon's TUN, renamed to the tunnel device, MTU capped for libipsec's buffers;
//   kernel    an xfrm interface with the tunnel's if_id, at the MTU the encapsulation stack leaves;
//   kernel, gre-over-ipsec  the reconciler's GRE link is the device; a transport-mode CHILD_SA protects the
//             GRE packets between the two underlay endpoints (IP protocol 47, RFC 2784 over RFC 4303).
// Pure: secrets and certificates are read by the caller and passed in.
import { join } from 'node:path'
import type { SitePolicy } from '../../config/policy.js'
import type { IpsecConn } from '../model.js'
import type { CharonInstance } from './charon-config.js'
import type { IpsecBackend } from './ipsec-backend.js'
import type { IpsecTunnel, TunnelAuth } from './tunnel-conn.js'
import type { TunAdoption } from './tun-device.js'
import type { XfrmInterfaceSpec } from './xfrm-interface.js'

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
  /** Chosen once at daemon start (ipsec-backend.ts chooseIpsecBackend). */
  readonly backend: IpsecBackend
  /** The if_id of slot s's xfrm interface (kernel backend): non-zero, unique in the namespace. */
  readonly xfrmIfId: (slot: number) => number
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

/** The device class traffic enters (layout.ts tunnelDevice), and who makes it. */
export type TunnelDevicePlan =
  /** The TUN libipsec opens, adopted: renamed, MTU, inner addresses. */
  | ({ readonly kind: 'tun' } & Omit<TunAdoption, 'tun'>)
  /** An xfrm interface the tunnel creates before its charon starts and removes when it stops. */
  | ({ readonly kind: 'xfrm' } & XfrmInterfaceSpec)
  /** The reconciler's GRE link (desired state greLinks): nothing for the tunnel to make. */
  | { readonly kind: 'gre'; readonly name: string }

export interface TunnelPlan {
  readonly instance: CharonInstance
  readonly tunnel: IpsecTunnel
  readonly device: TunnelDevicePlan
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
  const gre = conn.transport === 'transport'
  if (gre && options.backend === 'libipsec') {
    throw new TunnelPlanError(
      conn.name,
      "gre-over-ipsec needs kernel GRE and kernel ESP in transport mode, but the IPsec backend in use is libipsec (userland ESP over a TUN, for kernels without ESP or xfrm interfaces; see the daemon's 'IPsec backend' log line): run on a kernel with xfrm interfaces, or use type ipsec",
    )
  }
  const hub = policy.hubs.find(h => h.name === t.hub)
  if (!hub) throw new TunnelPlanError(conn.name, `names hub "${t.hub}", which the policy lacks`)
  const ikePort = options.ikePortBase + 2 * slot
  if (ikePort + 1 > 65535) throw new TunnelPlanError(conn.name, `slot ${slot} needs IKE ports ${ikePort}/${ikePort + 1}, past 65535; lower ikePortBase`)
  // An isolated segment (guest) never enters a tunnel: its prefixes stay out of the selectors, so even a
  // misrouted guest packet finds no policy in libipsec and is dropped there.
  const lanPrefixes = policy.lan.filter(s => !s.isolated).flatMap(s => s.prefixes)
  const innerRemote = [t.inner.remote, t.inner.remote6].filter((x): x is string => !!x)
  const kernel = options.backend === 'kernel'
  const ifId = kernel && !gre ? options.xfrmIfId(slot) : undefined
  return {
    instance: {
      name: conn.name,
      ipsec: options.backend,
      confPath: join(options.runDir, `${conn.name}.strongswan.conf`),
      viciSocketPath: join(options.runDir, `${conn.name}.vici`),
      ikePort,
      natTPort: ikePort + 1,
      routingTable: options.anchorTable(slot),
      routingTablePrio: options.anchorRulePriority(slot),
      installRoutes: false,
      routeRuleFwmark: INERT_RULE_FWMARK,
      // No socket fwmark: socket-default sends IKE (and libipsec's ESP in UDP) from the conn's local address
      // (IP_PKTINFO), and kernel ESP's outer route lookup carries the SA's source address (xfrm_dst_lookup),
      // so the dataplane's `from <uplink address> lookup <uplink table>` rule takes both out of the tunnel's
      // uplink (the lab counts them at the bb and lte providers; the VM lab does for kernel ESP).
      ...(options.retransmit ? { retransmit: options.retransmit } : {}),
      ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    },
    tunnel: {
      name: conn.name,
      // Kernel ESP in UDP is decapsulated only on a socket with UDP_ENCAP_ESPINUDP, which socket-default sets on
      // its NAT-T socket alone (socket_default_socket.c open_socket): the conn lives there, so the SA's ESP
      // arrives where the kernel takes it. libipsec reads ESP from charon's own sockets, either one.
      local: { address: conn.local, ikePort: kernel ? ikePort + 1 : ikePort, id: t.ipsec.localId ?? policy.device.id },
      remote: { address: conn.remote, ikePort: options.hubIkePort(conn.name), id: hub.ikeId ?? conn.remote },
      auth,
      ...(gre
        ? { localTs: [`${host(conn.local)}[gre]`], remoteTs: [`${host(conn.remote)}[gre]`], mode: 'transport' as const, startAction: 'trap' as const }
        : { localTs: [...lanPrefixes, ...conn.innerLocal.map(host)], remoteTs: [...t.remotePrefixes, ...innerRemote.map(host)] }),
      ikeProposals: t.ipsec.ikeProposals,
      espProposals: t.ipsec.espProposals,
      dpdDelaySec: t.ipsec.dpdDelayS,
      ...(ifId !== undefined ? { ifId } : {}),
    },
    device: gre
      ? { kind: 'gre', name: conn.device }
      : ifId !== undefined
        ? // No IFLA_XFRM_LINK: the uplink's ifindex can change under us (an LTE modem re-enumerated), and the
          // source-address rule above already pins ESP to the uplink.
          { kind: 'xfrm', name: conn.device, ifId, mtu: conn.mtu, addresses: conn.innerLocal }
        : { kind: 'tun', name: conn.device, mtu: Math.min(conn.mtu, LIBIPSEC_TUN_MTU), addresses: conn.innerLocal },
  }
}

/** The lowest slot no other tunnel holds; slots keep a tunnel's ports and table while it exists. */
export function freeSlot(taken: Iterable<number>): number {
  const used = new Set(taken)
  let slot = 0
  while (used.has(slot)) slot++
  return slot
}
