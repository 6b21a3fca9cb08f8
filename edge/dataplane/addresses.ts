// Which addresses and gateways an uplink has right now: the policy's for static addressing, the
// kernel's (Facts) for DHCP/SLAAC/modem uplinks. Pure.
import type { Uplink } from '../config/policy.js'
import type { Facts, Family } from './model.js'
import { formatPrefix, networkOf, parsePrefix } from '../net/prefix.js'

export interface UplinkAddress {
  family: Family
  /** Host address without length. */
  address: string
  /** The connected network, e.g. 192.0.2.0/24. */
  network: string
}

export interface UplinkAddressing {
  addresses: UplinkAddress[]
  gateway4?: string
  gateway6?: string
}

function toAddress(text: string): UplinkAddress | undefined {
  const p = parsePrefix(text)
  if (!p) return undefined
  // Link-local IPv6 (fe80::/10) is never a source for routed traffic: no rule, no connected route.
  if (p.family === 6 && p.value >> 118n === 0x3fan) return undefined
  const slash = text.indexOf('/')
  return { family: p.family, address: slash < 0 ? text : text.slice(0, slash), network: formatPrefix(networkOf(p)) }
}

export function uplinkAddressing(u: Uplink, facts: Facts): UplinkAddressing {
  const f = facts[u.name]
  if (u.addressing.mode === 'static') {
    const a = u.addressing
    const addresses = [a.ipv4, a.ipv6].flatMap(x => (x ? [toAddress(x)] : [])).filter((x): x is UplinkAddress => !!x)
    return { addresses, gateway4: a.gateway4, gateway6: a.gateway6 }
  }
  const addresses = (f?.addresses ?? []).map(toAddress).filter((x): x is UplinkAddress => !!x)
  return { addresses, gateway4: f?.gateway4, gateway6: f?.gateway6 }
}

/**
 * Is the uplink usable for routes through it? A static uplink is assumed up unless the kernel says
 * otherwise (so an offline `plan` shows its routes); a DHCP uplink is up only when the kernel says so.
 */
export function uplinkUp(u: Uplink, facts: Facts): boolean {
  const f = facts[u.name]
  return f ? f.up : u.addressing.mode === 'static'
}
