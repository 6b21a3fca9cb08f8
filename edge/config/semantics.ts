// Checks a policy that already has the schema's shape for what a schema cannot say: references,
// duplicates, address consistency, selectors that can never match, and the kernel ranges we own.
// Pure: returns every problem with its JSON pointer.
import { contains, hasHostBits, networkOf, formatPrefix, overlaps, parseAddress, parsePrefix, type Prefix } from '../net/prefix.js'
import type { PolicyProblem } from './errors.js'
import { pathName, type SitePolicy } from './policy.js'
import { portRange, selectorCovers } from './shadowing.js'
import { markLayoutProblem, RESERVED_ROUTE_PROTOCOLS, RESERVED_TABLES, SYSTEM_RULE_PRIORITIES } from './ownership.js'

type Problems = PolicyProblem[]

export function checkSemantics(policy: SitePolicy): Problems {
  const problems: Problems = []
  const add = (pointer: string, message: string): void => void problems.push({ pointer, message })
  checkNames(policy, add)
  checkUplinks(policy, add)
  checkTunnels(policy, add)
  checkClasses(policy, add)
  checkProbes(policy, add)
  checkTelemetry(policy, add)
  checkOwnership(policy, add)
  return problems
}

type Add = (pointer: string, message: string) => void

const list = (names: string[]): string => (names.length ? names.join(', ') : '(none defined)')

function checkNames(policy: SitePolicy, add: Add): void {
  const sections = [
    ['lan', 'LAN segment', policy.lan],
    ['uplinks', 'uplink', policy.uplinks],
    ['hubs', 'hub', policy.hubs],
    ['tunnels', 'tunnel', policy.tunnels],
    ['classes', 'class', policy.classes],
  ] as const
  for (const [key, what, items] of sections) {
    const first = new Map<string, number>()
    items.forEach((item, i) => {
      const seen = first.get(item.name)
      if (seen !== undefined) add(`/${key}/${i}/name`, `duplicate ${what} name '${item.name}' (first defined at /${key}/${seen})`)
      else first.set(item.name, i)
    })
  }
  // Classes name their paths by tunnel or uplink name, so the two share one namespace.
  policy.tunnels.forEach((t, i) => {
    if (policy.uplinks.some(u => u.name === t.name)) {
      add(`/tunnels/${i}/name`, `tunnel name '${t.name}' is also an uplink name; paths are named by either, so they must differ`)
    }
  })
  const interfaces = new Map<string, string>()
  const claim = (ifname: string, pointer: string): void => {
    const owner = interfaces.get(ifname)
    if (owner) add(pointer, `interface '${ifname}' is already used at ${owner}`)
    else interfaces.set(ifname, pointer)
  }
  policy.uplinks.forEach((u, i) => claim(u.interface, `/uplinks/${i}/interface`))
  policy.lan.forEach((s, i) => claim(s.interface, `/lan/${i}/interface`))
}

function checkPrefixList(prefixes: string[] | undefined, pointer: string, add: Add): void {
  prefixes?.forEach((text, i) => {
    const p = parsePrefix(text)
    if (p && hasHostBits(p)) add(`${pointer}/${i}`, `'${text}' has host bits set; did you mean ${formatPrefix(networkOf(p))}?`)
  })
}

function checkUplinks(policy: SitePolicy, add: Add): void {
  const lanPrefixes = policy.lan.flatMap(s => s.prefixes.map(p => parsePrefix(p)!))
  policy.lan.forEach((s, i) => checkPrefixList(s.prefixes, `/lan/${i}/prefixes`, add))
  policy.uplinks.forEach((u, i) => {
    if (u.addressing.mode !== 'static') return
    const a = u.addressing
    for (const [fam, addrKey, gwKey] of [[4, 'ipv4', 'gateway4'], [6, 'ipv6', 'gateway6']] as const) {
      const at = `/uplinks/${i}/addressing`
      const ifaddr = a[addrKey] ? parsePrefix(a[addrKey]!) : undefined
      const gw = a[gwKey] ? parseAddress(a[gwKey]!) : undefined
      if (ifaddr && ifaddr.family !== fam) add(`${at}/${addrKey}`, `'${a[addrKey]}' is not an IPv${fam} address`)
      if (gw && gw.family !== fam) add(`${at}/${gwKey}`, `'${a[gwKey]}' is not an IPv${fam} address`)
      if (gw && !ifaddr) add(`${at}/${gwKey}`, `${gwKey} needs ${addrKey}: a gateway is only reachable from an address on its subnet`)
      if (ifaddr && !gw && fam === 4) add(`${at}`, `static IPv4 addressing needs gateway4`)
      if (ifaddr && gw && ifaddr.family === gw.family) {
        const gwPrefix: Prefix = { family: gw.family, value: gw.value, length: ifaddr.length }
        if (gw.value === ifaddr.value) add(`${at}/${gwKey}`, `gateway ${a[gwKey]} is the uplink's own address`)
        else if (!contains(networkOf(ifaddr), gwPrefix) && !(fam === 6 && a.gateway6?.startsWith('fe80:'))) {
          add(`${at}/${gwKey}`, `gateway ${a[gwKey]} is outside the uplink's subnet ${formatPrefix(networkOf(ifaddr))}`)
        }
      }
      if (ifaddr) {
        const clash = lanPrefixes.find(l => l.family === ifaddr.family && overlaps(l, networkOf(ifaddr)))
        if (clash) add(`${at}/${addrKey}`, `uplink subnet ${formatPrefix(networkOf(ifaddr))} overlaps LAN prefix ${formatPrefix(clash)}`)
      }
    }
  })
}

function uplinkFamilies(policy: SitePolicy, uplinkName: string): Array<4 | 6> {
  const u = policy.uplinks.find(x => x.name === uplinkName)
  if (!u || u.addressing.mode === 'dhcp') return [4, 6]
  const families = [...(u.addressing.ipv4 ? [4 as const] : []), ...(u.addressing.ipv6 ? [6 as const] : [])]
  return families.length > 0 ? families : [4, 6]
}

function checkTunnels(policy: SitePolicy, add: Add): void {
  const pairs = new Map<string, number>()
  policy.tunnels.forEach((t, i) => {
    const at = `/tunnels/${i}`
    const hub = policy.hubs.find(h => h.name === t.hub)
    const uplink = policy.uplinks.find(u => u.name === t.uplink)
    if (!hub) add(`${at}/hub`, `unknown hub '${t.hub}'; defined hubs: ${list(policy.hubs.map(h => h.name))}`)
    if (!uplink) add(`${at}/uplink`, `unknown uplink '${t.uplink}'; defined uplinks: ${list(policy.uplinks.map(u => u.name))}`)
    const pairKey = `${t.uplink}\0${t.hub}\0${t.type}`
    const firstPair = pairs.get(pairKey)
    if (firstPair !== undefined) add(at, `a second ${t.type} tunnel from uplink '${t.uplink}' to hub '${t.hub}' (first at /tunnels/${firstPair}); one tunnel of a type per uplink and hub`)
    else pairs.set(pairKey, i)

    const encrypted = t.type !== 'gre' && t.type !== 'vxlan'
    const plain = t.type === 'vxlan' ? 'VXLAN' : 'GRE'
    if (encrypted && !t.ipsec) add(at, `type '${t.type}' needs an 'ipsec' block with the IKE authentication`)
    if (!encrypted && t.ipsec) add(`${at}/ipsec`, `'ipsec' settings do nothing on a plain '${t.type}' tunnel; use type 'gre-over-ipsec' to encrypt`)
    if (t.gre && t.type === 'ipsec') add(`${at}/gre`, `'gre' settings do nothing on an 'ipsec' tunnel; use type 'gre-over-ipsec'`)
    if (t.gre && t.type === 'vxlan') add(`${at}/gre`, `'gre' settings do nothing on a 'vxlan' tunnel; its settings go in 'vxlan'`)
    if (t.type === 'vxlan' && !t.vxlan) add(at, `type 'vxlan' needs a 'vxlan' block with the VNI, e.g. vxlan: { vni: 100 }`)
    if (t.vxlan && t.type !== 'vxlan') add(`${at}/vxlan`, `'vxlan' settings do nothing on a '${t.type}' tunnel; use type 'vxlan'`)
    if (!encrypted && uplink && uplink.kind !== 'mpls') {
      add(`${at}/type`, `plain ${plain} over '${uplink.name}' (${uplink.kind}) would carry the site's traffic unencrypted across the internet; use 'ipsec' or 'gre-over-ipsec', or plain ${plain} only over mpls`)
    }
    const families = uplinkFamilies(policy, t.uplink)
    if (t.remote) {
      const r = parseAddress(t.remote)!
      if (!families.includes(r.family)) add(`${at}/remote`, `remote ${t.remote} is IPv${r.family} but uplink '${t.uplink}' has no IPv${r.family} address`)
    } else if (hub && !hub.addresses.some(a => families.includes(parseAddress(a)!.family))) {
      add(`${at}/hub`, `hub '${hub.name}' has no address of a family uplink '${t.uplink}' has (IPv${families.join('/IPv')})`)
    }
    const innerPairs = [['local', 'remote', 4], ['local6', 'remote6', 6]] as const
    for (const [lk, rk, fam] of innerPairs) {
      const l = t.inner[lk]
      const r = t.inner[rk]
      if (Boolean(l) !== Boolean(r)) add(`${at}/inner`, `inner.${lk} and inner.${rk} go together`)
      if (!l || !r) continue
      const lp = parsePrefix(l)!
      const ra = parseAddress(r)!
      if (lp.family !== fam && fam === 6) add(`${at}/inner/${lk}`, `'${l}' is not an IPv6 address`)
      if (lp.family !== ra.family) add(`${at}/inner/${rk}`, `inner.${rk} ${r} is IPv${ra.family} but inner.${lk} ${l} is IPv${lp.family}`)
      else if (lp.value === ra.value) add(`${at}/inner/${rk}`, `inner.${rk} is this end's own inner address`)
    }
    checkPrefixList(t.remotePrefixes, `${at}/remotePrefixes`, add)
  })
}

function checkClasses(policy: SitePolicy, add: Add): void {
  const tunnels = policy.tunnels.map(t => t.name)
  const uplinks = policy.uplinks.map(u => u.name)
  const segments = policy.lan.map(s => s.name)
  policy.classes.forEach((c, ci) => {
    const at = `/classes/${ci}`
    const seenPaths = new Set<string>()
    c.paths.forEach((ref, pi) => {
      const name = pathName(ref)
      const pointer = `${at}/paths/${pi}`
      if (!tunnels.includes(name) && !uplinks.includes(name)) {
        add(pointer, `unknown path '${name}': not a tunnel (${list(tunnels)}) nor an uplink (${list(uplinks)})`)
      }
      if (seenPaths.has(name)) add(pointer, `path '${name}' is listed twice`)
      seenPaths.add(name)
      if (typeof ref !== 'string' && ref.weight !== undefined && c.mode !== 'weighted') {
        add(`${pointer}/weight`, `weights only apply with mode: weighted (this class is mode: ${c.mode})`)
      }
    })
    if (c.mode === 'weighted' && c.paths.length < 2) add(`${at}/mode`, `mode: weighted needs at least two paths to spread flows over`)
    c.match.forEach((sel, si) => {
      const sp = `${at}/match/${si}`
      sel.segments?.forEach((s, i) => {
        if (!segments.includes(s)) add(`${sp}/segments/${i}`, `unknown LAN segment '${s}'; defined segments: ${list(segments)}`)
      })
      const isolated = policy.lan.filter(s => s.isolated && sel.segments?.includes(s.name))
      for (const seg of isolated) {
        const viaTunnel = c.paths.map(pathName).find(p => tunnels.includes(p))
        if (viaTunnel) add(`${at}/paths`, `class takes isolated segment '${seg.name}' but lists tunnel '${viaTunnel}'; isolated (guest) traffic never enters a tunnel`)
      }
      if (sel.ports && !['tcp', 'udp', 'sctp'].includes(sel.protocol ?? '')) {
        add(`${sp}/ports`, `ports need protocol tcp, udp or sctp${sel.protocol ? ` (got '${sel.protocol}')` : ''}`)
      }
      sel.ports?.forEach((spec, i) => {
        const [lo, hi] = portRange(spec)
        if (lo < 1 || hi > 65535 || lo > hi) add(`${sp}/ports/${i}`, `port range '${spec}' must run from low to high within 1-65535`)
      })
      if (sel.protocol === 'icmp' && [...(sel.sourcePrefixes ?? []), ...(sel.destinationPrefixes ?? [])].some(p => parsePrefix(p)?.family === 6)) {
        add(`${sp}/protocol`, `protocol icmp never matches IPv6 prefixes; use icmpv6`)
      }
      checkPrefixList(sel.sourcePrefixes, `${sp}/sourcePrefixes`, add)
      checkPrefixList(sel.destinationPrefixes, `${sp}/destinationPrefixes`, add)
    })
    // First match wins: a class all of whose selectors an earlier class covers never sees a flow.
    for (let earlier = 0; earlier < ci; earlier++) {
      const prev = policy.classes[earlier]!
      const covered = c.match.every(sel => prev.match.some(p => selectorCovers(p, sel)))
      if (covered) {
        add(`${at}/match`, `class '${c.name}' can never match: every flow it selects is taken first by class '${prev.name}' (/classes/${earlier}); move it above '${prev.name}' or narrow '${prev.name}'`)
        break
      }
    }
  })
}

function checkProbes(policy: SitePolicy, add: Add): void {
  const p = policy.probes
  for (const name of Object.keys(p.uplinks)) {
    if (!policy.uplinks.some(u => u.name === name)) {
      add(`/probes/uplinks/${name}`, `unknown uplink '${name}'; defined uplinks: ${list(policy.uplinks.map(u => u.name))}`)
    }
  }
  if (p.downAfterMisses > p.windowSize) add('/probes/downAfterMisses', `must not exceed windowSize (${p.windowSize})`)
  const uplinks = policy.uplinks.map(u => u.name)
  const unprobed = (name: string): boolean => uplinks.includes(name) && p.reflectors.length === 0 && !p.uplinks[name]?.reflectors
  const directWithSla = policy.classes.findIndex(c => c.sla && c.paths.some(r => unprobed(pathName(r))))
  if (directWithSla >= 0) {
    add('/probes', `class '${policy.classes[directWithSla]!.name}' has an SLA on a direct-internet path, but probes.reflectors is empty: add a reflector to measure direct paths against`)
  }
}

function checkTelemetry(policy: SitePolicy, add: Add): void {
  const t = policy.telemetry
  if (t && /^(mqtts|wss):/.test(t.broker) && !t.tls) add('/telemetry', `broker ${t.broker} uses TLS: add telemetry.tls with the CA and this device's client certificate and key`)
  if (t && t.tls && /^(mqtt|ws):/.test(t.broker)) add('/telemetry/broker', `telemetry.tls is set but the broker URL is plaintext; use mqtts:// or wss://`)
}

function checkOwnership(policy: SitePolicy, add: Add): void {
  const d = policy.dataplane
  const prio = d.rulePriorities
  if (prio.from > prio.to) add('/dataplane/rulePriorities', `from (${prio.from}) must not exceed to (${prio.to})`)
  else if (prio.to - prio.from + 1 < 3) add('/dataplane/rulePriorities', `the range must hold at least 3 priorities (source, sticky and class rules)`)
  const sys = SYSTEM_RULE_PRIORITIES.find(p => p >= prio.from && p <= prio.to)
  if (sys !== undefined) add('/dataplane/rulePriorities', `the range includes ${sys}, the priority of one of the kernel's own rules (0 local, 32766 main, 32767 default)`)
  const tables = d.tables
  const pathCount = policy.uplinks.length + policy.tunnels.length + 1
  if (tables.from > tables.to) add('/dataplane/tables', `from (${tables.from}) must not exceed to (${tables.to})`)
  else if (tables.to - tables.from < pathCount) add('/dataplane/tables', `the range must hold ${pathCount + 1} tables (one per uplink and tunnel, one to drop); it holds ${tables.to - tables.from + 1}`)
  const reserved = RESERVED_TABLES.find(t => t >= tables.from && t <= tables.to)
  if (reserved !== undefined) add('/dataplane/tables', `the range includes table ${reserved}, which the kernel reserves (253 default, 254 main, 255 local)`)
  const layoutProblem = markLayoutProblem(d.fwmarkMask, policy.classes.length, pathCount)
  if (layoutProblem) add('/dataplane/fwmarkMask', layoutProblem)
  const proto = RESERVED_ROUTE_PROTOCOLS[d.routeProtocol]
  if (proto) add('/dataplane/routeProtocol', `protocol ${d.routeProtocol} is used by ${proto} (see /etc/iproute2/rt_protos); pick another between 5 and 254`)
}
