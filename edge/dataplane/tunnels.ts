// The tunnel devices and IPsec connections a policy asks for. Pure.
import type { SitePolicy, Tunnel } from '../config/policy.js'
import type { Facts, GreLink, IpsecConn, VxlanLink } from './model.js'
import { uplinkAddressing } from './addresses.js'
import { tunnelDevice } from './layout.js'
import { parseAddress } from '../net/prefix.js'

// Encapsulation overheads in bytes. GRE: outer IP + 4-byte GRE header (+4 with a key, RFC 2890).
// ESP tunnel mode with AES-GCM in UDP encapsulation: outer IP + UDP 8 + ESP header 8 + IV 8 + ICV 16
// + pad/next-header up to 5 (RFC 4106, RFC 3948).
const outerIp = (family: 4 | 6): number => (family === 4 ? 20 : 40)
const greOverhead = (family: 4 | 6, key: boolean): number => outerIp(family) + 4 + (key ? 4 : 0)
const espOverhead = (family: 4 | 6): number => outerIp(family) + 8 + 8 + 8 + 16 + 5

/** The hub address a tunnel goes to: its own `remote`, else the hub's first address of a family the uplink has. */
export function tunnelRemote(policy: SitePolicy, t: Tunnel, facts: Facts): string | undefined {
  if (t.remote) return t.remote
  const hub = policy.hubs.find(h => h.name === t.hub)
  const uplink = policy.uplinks.find(u => u.name === t.uplink)
  if (!hub || !uplink) return undefined
  const families = new Set(uplinkAddressing(uplink, facts).addresses.map(a => a.family))
  return hub.addresses.find(a => families.has(parseAddress(a)?.family ?? 4)) ?? hub.addresses[0]
}

function underlay(policy: SitePolicy, t: Tunnel, facts: Facts): { local?: string; remote?: string; family: 4 | 6; uplinkMtu: number } {
  const remote = tunnelRemote(policy, t, facts)
  const family = remote ? (parseAddress(remote)?.family ?? 4) : 4
  const uplink = policy.uplinks.find(u => u.name === t.uplink)
  const local = uplink ? uplinkAddressing(uplink, facts).addresses.find(a => a.family === family)?.address : undefined
  return { local, remote, family, uplinkMtu: facts[t.uplink]?.mtu ?? 1500 }
}

/** gre-over-ipsec: GRE between the underlay endpoints inside transport-mode ESP in UDP, whose outer IP header
 *  is GRE's own (RFC 3948 transport mode adds UDP, ESP header, IV, ICV and padding, not another IP header). */
const greOverIpsecOverhead = (family: 4 | 6, key: boolean): number => espOverhead(family) + greOverhead(family, key) - outerIp(family)

export function greLinks(policy: SitePolicy, facts: Facts): GreLink[] {
  const links: GreLink[] = []
  for (const t of policy.tunnels) {
    if (t.type !== 'gre' && t.type !== 'gre-over-ipsec') continue
    const u = underlay(policy, t, facts)
    // Without an underlay address the kernel cannot pin the tunnel to its uplink: left out until the
    // uplink has one (a DHCP uplink that is down).
    if (!u.local || !u.remote) continue
    const key = t.gre?.key
    links.push({
      kind: u.family === 4 ? 'gre' : 'ip6gre',
      name: tunnelDevice(t.name),
      local: u.local,
      remote: u.remote,
      ...(key !== undefined ? { key } : {}),
      ttl: t.gre?.ttl ?? 64,
      mtu: t.mtu ?? u.uplinkMtu - (t.type === 'gre' ? greOverhead : greOverIpsecOverhead)(u.family, key !== undefined),
      innerAddresses: [t.inner.local, t.inner.local6].filter((x): x is string => !!x),
    })
  }
  return links
}

export function ipsecConns(policy: SitePolicy, facts: Facts): IpsecConn[] {
  const conns: IpsecConn[] = []
  for (const t of policy.tunnels) {
    if (t.type === 'gre' || t.type === 'vxlan') continue
    const u = underlay(policy, t, facts)
    if (!u.remote) continue
    const gre = t.type === 'gre-over-ipsec'
    conns.push({
      name: t.name,
      uplink: t.uplink,
      device: tunnelDevice(t.name),
      ...(u.local ? { local: u.local } : {}),
      remote: u.remote,
      transport: gre ? 'transport' : 'tunnel',
      innerLocal: [t.inner.local, t.inner.local6].filter((x): x is string => !!x),
      mtu: t.mtu ?? u.uplinkMtu - (gre ? greOverIpsecOverhead(u.family, t.gre?.key !== undefined) : espOverhead(u.family)),
    })
  }
  return conns
}

// VXLAN (RFC 7348): outer IP + UDP 8 + VXLAN header 8 + the inner Ethernet header 14 the tunnel carries.
const vxlanOverhead = (family: 4 | 6): number => outerIp(family) + 8 + 8 + 14

export function vxlanLinks(policy: SitePolicy, facts: Facts): VxlanLink[] {
  const links: VxlanLink[] = []
  for (const t of policy.tunnels) {
    if (t.type !== 'vxlan' || !t.vxlan) continue
    const u = underlay(policy, t, facts)
    // As for GRE: the link waits for its uplink's address.
    if (!u.local || !u.remote) continue
    links.push({
      name: tunnelDevice(t.name),
      vni: t.vxlan.vni,
      local: u.local,
      remote: u.remote,
      port: t.vxlan.port,
      ttl: t.vxlan.ttl,
      mtu: t.mtu ?? u.uplinkMtu - vxlanOverhead(u.family),
      innerAddresses: [t.inner.local, t.inner.local6].filter((x): x is string => !!x),
    })
  }
  return links
}
