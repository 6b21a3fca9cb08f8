// Our nftables table as `nft -f` text. Pure; depends only on the policy and the mark layout, never on
// steering decisions: re-steering is a fib rule change, so a decision never rewrites the ruleset.
//
// Hooks used (all in our own table; a drop here is final, an accept only ends our chain):
//   prerouting/mangle   classify: restore a flow's class|path from its conntrack mark, or classify
//                       a new flow by the class selectors and set the class bits (weighted classes
//                       also pick a path by numgen).
//   postrouting/mangle  record:   write class|path of the device the packet actually leaves by into
//                       the conntrack mark, so the flow's next packets take the same path (sticky).
//   forward/filter      forward:  MSS clamp into tunnels; isolated segments cut off.
//   postrouting/srcnat  nat_out:  masquerade on uplinks with `nat: true` (IPv4 only).
import { createHash } from 'node:crypto'
import type { AppClass, SitePolicy, Selector } from '../config/policy.js'
import type { Layout } from './layout.js'
import { classValue, hex32, markValue, outside } from './marks.js'
import { parsePrefix } from '../net/prefix.js'

/** Seconds a DNS-learned destination stays in a class's domain set when the answer gave no TTL. */
export const DOMAIN_SET_TIMEOUT_S = 3600

/** The NFLOG group DNS answers toward the LAN are copied to, for dns/snooper.ts. */
export const DNS_LOG_GROUP = 4242

/** nft identifiers take no '-'; class names take no '_', so the mapping is one-to-one. */
export const nftIdent = (name: string): string => name.replace(/-/g, '_')
export const domainSet = (className: string, family: 4 | 6): string => `dom${family}_${nftIdent(className)}`

const q = (s: string): string => JSON.stringify(s)
const set = (items: readonly string[]): string => (items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`)

const L4: Record<string, string> = { tcp: 'tcp', udp: 'udp', icmp: 'icmp', icmpv6: 'ipv6-icmp', sctp: 'sctp', gre: 'gre', esp: 'esp' }

function prefixesOf(list: readonly string[] | undefined, family: 4 | 6): string[] {
  return (list ?? []).filter(p => parsePrefix(p)?.family === family)
}

/**
 * One selector becomes one rule per address family it can match: DSCP, prefixes and domain sets are
 * family-specific in nft (`ip dscp` never matches IPv6), the rest are not.
 */
function selectorMatches(policy: SitePolicy, cls: AppClass, sel: Selector): string[] {
  const common: string[] = []
  if (sel.segments) {
    const ifaces = sel.segments.map(s => policy.lan.find(x => x.name === s)?.interface).filter((x): x is string => !!x)
    if (ifaces.length === 0) return []
    common.push(`iifname ${set(ifaces.map(q))}`)
  }
  if (sel.protocol) common.push(`meta l4proto ${L4[sel.protocol]}`)
  if (sel.ports) {
    if (!sel.protocol) common.push('meta l4proto { tcp, udp, sctp }')
    common.push(`th dport ${set(sel.ports.map(String))}`)
  }
  const familySpecific = !!(sel.dscp || sel.sourcePrefixes || sel.destinationPrefixes || sel.domains)
  const protoFamily = sel.protocol === 'icmp' ? 4 : sel.protocol === 'icmpv6' ? 6 : undefined
  if (!familySpecific) return [common.join(' ')]
  const out: string[] = []
  for (const family of [4, 6] as const) {
    if (protoFamily && protoFamily !== family) continue
    const ip = family === 4 ? 'ip' : 'ip6'
    const parts = [...common]
    const src = prefixesOf(sel.sourcePrefixes, family)
    const dst = prefixesOf(sel.destinationPrefixes, family)
    if (sel.sourcePrefixes && src.length === 0) continue
    if (sel.destinationPrefixes && dst.length === 0) continue
    if (sel.dscp) parts.push(`${ip} dscp ${set(sel.dscp.map(String))}`)
    if (src.length) parts.push(`${ip} saddr ${set(src)}`)
    if (dst.length) parts.push(`${ip} daddr ${set(dst)}`)
    if (sel.domains) parts.push(`${ip} daddr @${domainSet(cls.name, family)}`)
    out.push(parts.join(' '))
  }
  return out
}

function classifyAction(l: Layout, cls: AppClass, classId: number): string {
  if (cls.mode === 'weighted') {
    // numgen picks among the policy's weighted paths for each new flow; the result (class|path) is
    // written whole, as nft cannot OR a map lookup into the existing mark.
    const entries: string[] = []
    let at = 0
    for (const ref of cls.paths) {
      const via = typeof ref === 'string' ? ref : ref.via
      const weight = typeof ref === 'string' ? 1 : (ref.weight ?? 1)
      const path = l.paths.find(p => p.name === via)
      if (!path) continue
      entries.push(`${at}-${at + weight - 1} : ${hex32(markValue(l.marks, classId, path.id))}`)
      at += weight
    }
    if (at > 0) return `meta mark set numgen random mod ${at} map { ${entries.join(', ')} } return`
  }
  return `meta mark set meta mark & ${hex32(outside(l.marks.mask))} | ${hex32(classValue(l.marks, classId))} return`
}

function lanPrefixes(policy: SitePolicy, family: 4 | 6): string[] {
  return policy.lan.flatMap(s => prefixesOf(s.prefixes, family))
}

export function renderNftBody(policy: SitePolicy, l: Layout): string {
  const name = policy.dataplane.nftTable
  const m = l.marks
  const lanIfaces = policy.lan.map(s => s.interface)
  const uplinkIfaces = policy.uplinks.map(u => u.interface)
  const tunnelDevs = l.paths.filter(p => p.kind === 'tunnel').map(p => p.device!)
  const out: string[] = [`table inet ${name} {`]
  const lan4 = lanPrefixes(policy, 4)
  const lan6 = lanPrefixes(policy, 6)
  out.push(`  set lan4 { type ipv4_addr; flags interval;${lan4.length ? ` elements = { ${lan4.join(', ')} }` : ''} }`)
  out.push(`  set lan6 { type ipv6_addr; flags interval;${lan6.length ? ` elements = { ${lan6.join(', ')} }` : ''} }`)
  for (const cls of policy.classes)
    if (cls.match.some(s => s.domains))
      for (const family of [4, 6] as const)
        out.push(`  set ${domainSet(cls.name, family)} { type ${family === 4 ? 'ipv4' : 'ipv6'}_addr; flags timeout; timeout ${DOMAIN_SET_TIMEOUT_S}s; }`)

  out.push('  chain classify {', '    type filter hook prerouting priority mangle; policy accept;')
  // Only traffic entering from the LAN is steered; without LAN segments, everything not arriving
  // from an uplink or tunnel counts as LAN.
  if (lanIfaces.length) out.push(`    iifname != ${set(lanIfaces.map(q))} return`)
  else out.push(`    iifname ${set([...uplinkIfaces, ...tunnelDevs].map(q))} return`)
  // LAN-to-LAN and LAN-to-box traffic stays on the main table: no path table has LAN routes.
  out.push('    ip daddr @lan4 return', '    ip6 daddr @lan6 return')
  out.push(`    ct mark & ${hex32(m.mask)} != 0 meta mark set ct mark & ${hex32(m.mask)} return`)
  policy.classes.forEach((cls, i) => {
    const id = l.classes[i]!.id
    for (const sel of cls.match)
      for (const match of selectorMatches(policy, cls, sel)) out.push(`    ${match ? match + ' ' : ''}${classifyAction(l, cls, id)}`)
  })
  out.push('  }')

  out.push('  chain record {', '    type filter hook postrouting priority mangle; policy accept;')
  const vmap = l.classes.map(c => `${hex32(classValue(m, c.id))} : jump record_${nftIdent(c.name)}`)
  if (vmap.length) out.push(`    meta mark & ${hex32(m.classMask)} vmap { ${vmap.join(', ')} }`)
  out.push('  }')
  for (const c of l.classes) {
    out.push(`  chain record_${nftIdent(c.name)} {`)
    for (const p of l.paths)
      if (p.device) out.push(`    oifname ${q(p.device)} ct mark set ct mark & ${hex32(outside(m.mask))} | ${hex32(markValue(m, c.id, p.id))}`)
    out.push('  }')
  }

  out.push('  chain forward {', '    type filter hook forward priority filter; policy accept;')
  // DNS answers toward the LAN, forwarded or from a resolver on the box, are copied to userspace,
  // which fills the classes' domain sets from them.
  const snoop = lanIfaces.length && policy.classes.some(c => c.match.some(sel => sel.domains))
  const snoopRule = `    udp sport 53 oifname ${set(lanIfaces.map(q))} log group ${DNS_LOG_GROUP}`
  if (snoop) out.push(snoopRule)
  if (tunnelDevs.length) out.push(`    oifname ${set(tunnelDevs.map(q))} tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu`)
  for (const seg of policy.lan.filter(s => s.isolated)) {
    const others = [...lanIfaces.filter(i => i !== seg.interface), ...tunnelDevs]
    if (!others.length) continue
    out.push(`    iifname ${q(seg.interface)} oifname ${set(others.map(q))} drop`)
    out.push(`    iifname ${set(others.map(q))} oifname ${q(seg.interface)} drop`)
  }
  out.push('  }')

  if (snoop) out.push('  chain dns_local {', '    type filter hook output priority filter; policy accept;', snoopRule, '  }')

  const natIfaces = policy.uplinks.filter(u => u.nat).map(u => u.interface)
  out.push('  chain nat_out {', '    type nat hook postrouting priority srcnat; policy accept;')
  if (natIfaces.length) out.push(`    meta nfproto ipv4 oifname ${set(natIfaces.map(q))} masquerade`)
  out.push('  }', '}')
  return out.join('\n') + '\n'
}

/** Digest of the ruleset, kept as the table's comment so a restart can tell whether the kernel's copy is current. */
export const nftDigest = (body: string): string => 'sdwan-edge ' + createHash('sha256').update(body).digest('hex').slice(0, 32)

/** The table with its digest comment: what `nft -f` loads. */
export function renderNft(policy: SitePolicy, l: Layout): { text: string; digest: string } {
  const body = renderNftBody(policy, l)
  const digest = nftDigest(body)
  const text = body.replace(/^(table inet \S+ \{\n)/, `$1  comment ${q(digest)}\n`)
  return { text, digest }
}
