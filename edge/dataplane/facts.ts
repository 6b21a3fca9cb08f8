// Facts (what the kernel says about each uplink) from the kernel's links, addresses and main-table
// default routes. Pure. DHCP clients and modem managers install their default route in the main
// table; that route's gateway is the uplink's gateway.
import type { SitePolicy } from '../config/policy.js'
import type { Facts } from './model.js'
import type { KernelFacts } from './ports.js'

export function uplinkFacts(policy: SitePolicy, k: KernelFacts): Facts {
  const facts: Facts = {}
  for (const u of policy.uplinks) {
    const link = k.links.find(l => l.name === u.interface)
    if (!link) {
      facts[u.name] = { up: false, addresses: [], mtu: 0 }
      continue
    }
    const addresses = k.addresses.filter(a => a.link === u.interface).map(a => a.address)
    const gw = (family: 4 | 6): string | undefined => k.defaultRoutes.find(r => r.link === u.interface && r.family === family)?.gateway
    const gateway4 = gw(4)
    const gateway6 = gw(6)
    facts[u.name] = {
      // Carrier plus an address: an interface that is up without an address cannot carry a path yet.
      up: link.up && link.carrier && addresses.length > 0,
      addresses,
      ...(gateway4 ? { gateway4 } : {}),
      ...(gateway6 ? { gateway6 } : {}),
      mtu: link.mtu,
    }
  }
  return facts
}
