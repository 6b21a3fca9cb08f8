// A site around the router namespace (the test's own): a store LAN host, a guest host, and three
// providers (bb, lte, mpls), each answering for the same "internet" address 100.100.0.1 and
// counting what reaches it per UDP destination port with nft counters. Matches THREE_UPLINKS_YAML.
import type { Test } from 'tap'
import { extraNetns, inNs, ipBatch, run, sh } from './netns.js'

export const INTERNET = '100.100.0.1'
export const PROVIDERS = ['bb', 'lte', 'mpls'] as const
export type Provider = (typeof PROVIDERS)[number]

const UPLINK_NET: Record<Provider, string> = { bb: '192.0.2', lte: '198.51.100', mpls: '203.0.113' }

export interface Site {
  lan: string
  guest: string
  provider: Record<Provider, string>
}

/** Builds the site; every namespace it creates is removed at the test's teardown. */
export function buildSite(t: Test, ports: readonly number[]): Site {
  const tag = process.pid
  const lan = extraNetns(t, `sdwt-lan-${tag}`)
  const guest = extraNetns(t, `sdwt-guest-${tag}`)
  const provider = {} as Record<Provider, string>
  for (const p of PROVIDERS) provider[p] = extraNetns(t, `sdwt-p${p}-${tag}`)

  sh('sysctl', '-qw', 'net.ipv4.ip_forward=1')
  // Replies to NATed flows come back on the uplink the flow left by, which need not be the main
  // table's: strict reverse-path filtering (rp_filter=1) would drop them.
  sh('sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0')
  sh('sysctl', '-qw', 'net.ipv4.conf.default.rp_filter=0')
  ipBatch([
    `link add lan0 type veth peer name host0 netns ${lan}`,
    `link add lan1 type veth peer name host0 netns ${guest}`,
    ...PROVIDERS.map(p => `link add up-${p} type veth peer name wan0 netns ${provider[p]}`),
    'addr add 10.42.0.1/24 dev lan0',
    'addr add 10.142.0.1/24 dev lan1',
    ...PROVIDERS.map(p => `addr add ${UPLINK_NET[p]}.2/24 dev up-${p}`),
    ...['lan0', 'lan1', ...PROVIDERS.map(p => `up-${p}`)].map(l => `link set ${l} up`),
  ])
  for (const [ns, addrs, gw] of [
    [lan, ['10.42.0.10/24', '10.42.0.20/24'], '10.42.0.1'],
    [guest, ['10.142.0.10/24'], '10.142.0.1'],
  ] as const) {
    for (const a of addrs) inNs(ns, 'ip', 'addr', 'add', a, 'dev', 'host0')
    inNs(ns, 'ip', 'link', 'set', 'host0', 'up')
    inNs(ns, 'ip', 'route', 'add', 'default', 'via', gw)
  }
  for (const p of PROVIDERS) {
    const ns = provider[p]
    inNs(ns, 'ip', 'addr', 'add', `${UPLINK_NET[p]}.1/24`, 'dev', 'wan0')
    inNs(ns, 'ip', 'addr', 'add', `${INTERNET}/32`, 'dev', 'lo')
    inNs(ns, 'ip', 'link', 'set', 'wan0', 'up')
    // MPLS does not NAT: the provider routes the site's prefixes back to it.
    inNs(ns, 'ip', 'route', 'add', '10.0.0.0/8', 'via', `${UPLINK_NET[p]}.2`)
    const counters = ports.map(port => `    udp dport ${port} counter`).join('\n')
    nftIn(ns, `table inet obs {\n  chain in {\n    type filter hook prerouting priority -300; policy accept;\n${counters}\n  }\n}\n`)
  }
  return { lan, guest, provider }
}

function nftIn(ns: string, text: string): void {
  const r = run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], text)
  if (r.status !== 0) throw new Error(`nft in ${ns}: ${r.stderr}`)
}

/** Packets per UDP destination port that reached each provider. */
export function counts(site: Site): Record<Provider, Record<number, number>> {
  const out = {} as Record<Provider, Record<number, number>>
  for (const p of PROVIDERS) {
    out[p] = {}
    const json = JSON.parse(inNs(site.provider[p], 'nft', '-j', 'list', 'table', 'inet', 'obs')) as {
      nftables: Array<{ rule?: { expr: Array<{ match?: { right: number }; counter?: { packets: number } }> } }>
    }
    for (const item of json.nftables) {
      const expr = item.rule?.expr
      if (!expr) continue
      const port = expr.find(e => e.match)?.match?.right
      const packets = expr.find(e => e.counter)?.counter?.packets
      if (typeof port === 'number' && typeof packets === 'number') out[p][port] = packets
    }
  }
  return out
}
