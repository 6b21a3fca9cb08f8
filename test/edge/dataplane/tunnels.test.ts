// Tunnel links and conns from the policy, table-driven: every kind's MTU comes from its encapsulation
// stack (RFC 2890 GRE ± key, RFC 7348 VXLAN with its inner Ethernet header, RFC 4106/3948 ESP in UDP),
// over the uplink MTU the kernel reports, for both underlay families; VXLAN's links and routes.
import t from 'tap'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import type { Facts } from '../../../edge/dataplane/model.js'
import { describeRoute } from '../../../edge/dataplane/ops.js'
import { planText } from '../../../edge/dataplane/plan-text.js'
import { greLinks, ipsecConns, vxlanLinks } from '../../../edge/dataplane/tunnels.js'
import { policyFromYaml } from './helpers/policy.js'

const policyWith = (tunnel: string, mpls = 'mode: static, ipv4: 172.20.1.2/29, gateway4: 172.20.1.1, ipv6: "2001:db8:20::2/64", gateway6: "2001:db8:20::1"') =>
  policyFromYaml(`
version: 1
serial: 1
site: { id: s1 }
device: { id: d1 }
lan:
  - { name: store, interface: lan0, prefixes: [10.42.0.0/24] }
uplinks:
  - { name: mpls, kind: mpls, interface: up-mpls, addressing: { ${mpls} } }
  - { name: bb, kind: broadband, interface: up-bb, addressing: { mode: static, ipv4: 192.0.2.2/24, gateway4: 192.0.2.1 } }
hubs:
  - { name: dc1, addresses: [172.20.2.2, "2001:db8:21::2"] }
tunnels:
  - ${tunnel}
classes:
  - name: erp
    match: [{ segments: [store] }]
    paths: [dc1-t, mpls]
`)

const facts = (mtu: number): Facts => ({
  mpls: { up: true, addresses: ['172.20.1.2/29', '2001:db8:20::2/64'], mtu },
  bb: { up: true, addresses: ['192.0.2.2/24'], mtu },
})
const base = '{ name: dc1-t, hub: dc1, uplink: mpls, inner: { local: 10.255.9.2/30, remote: 10.255.9.1 }'
const psk = 'ipsec: { auth: { pskFile: /etc/psk } }'

t.test('every tunnel kind: MTU = uplink MTU − its encapsulation overhead', async t => {
  const six = 'remote: "2001:db8:21::2"'
  const cases: Array<{ name: string; tunnel: string; uplinkMtu: number; mtu: number }> = [
    // outer IPv4 20 + GRE 4
    { name: 'gre over IPv4', tunnel: `${base}, type: gre }`, uplinkMtu: 1500, mtu: 1476 },
    // + the RFC 2890 key 4
    { name: 'gre with a key', tunnel: `${base}, type: gre, gre: { key: 7 } }`, uplinkMtu: 1500, mtu: 1472 },
    // outer IPv6 40 + GRE 4
    { name: 'ip6gre', tunnel: `${base}, type: gre, ${six} }`, uplinkMtu: 1500, mtu: 1456 },
    { name: 'ip6gre with a key over a jumbo uplink', tunnel: `${base}, type: gre, ${six}, gre: { key: 7 } }`, uplinkMtu: 9000, mtu: 8952 },
    // outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
    { name: 'vxlan over IPv4', tunnel: `${base}, type: vxlan, vxlan: { vni: 100 } }`, uplinkMtu: 1500, mtu: 1450 },
    // outer IPv6 40 + the same 30
    { name: 'vxlan over IPv6', tunnel: `${base}, type: vxlan, ${six}, vxlan: { vni: 100 } }`, uplinkMtu: 1500, mtu: 1430 },
    { name: 'vxlan over a smaller uplink', tunnel: `${base}, type: vxlan, vxlan: { vni: 100 } }`, uplinkMtu: 1400, mtu: 1350 },
    // outer IPv4 20 + UDP 8 + ESP 8 + IV 8 + ICV 16 + pad/next header 5
    { name: 'ipsec over IPv4', tunnel: `${base}, type: ipsec, ${psk} }`, uplinkMtu: 1500, mtu: 1435 },
    { name: 'ipsec over IPv6', tunnel: `${base}, type: ipsec, ${six}, ${psk} }`, uplinkMtu: 1500, mtu: 1415 },
    // ESP's 65 (transport mode: GRE's own outer IP is the one ESP protects) + GRE 4
    { name: 'gre-over-ipsec', tunnel: `${base}, type: gre-over-ipsec, ${psk} }`, uplinkMtu: 1500, mtu: 1431 },
    { name: 'gre-over-ipsec over IPv6', tunnel: `${base}, type: gre-over-ipsec, ${six}, ${psk} }`, uplinkMtu: 1500, mtu: 1411 },
    { name: 'an explicit mtu wins', tunnel: `${base}, type: vxlan, vxlan: { vni: 100 }, mtu: 1300 }`, uplinkMtu: 1500, mtu: 1300 },
  ]
  for (const c of cases) {
    const p = policyWith(c.tunnel)
    const f = facts(c.uplinkMtu)
    const mtus = [...greLinks(p, f), ...vxlanLinks(p, f), ...ipsecConns(p, f)].map(l => l.mtu)
    // gre-over-ipsec is a GRE link and the IPsec conn that protects it, both at the whole stack's MTU.
    t.same(mtus, c.name.startsWith('gre-over-ipsec') ? [c.mtu, c.mtu] : [c.mtu], c.name)
  }
})

t.test('a VXLAN tunnel: one link, no IPsec conn, defaults filled', async t => {
  const p = policyWith(`${base}, type: vxlan, vxlan: { vni: 4097 } }`)
  t.same(vxlanLinks(p, facts(1500)), [
    { name: 'sw-dc1-t', vni: 4097, local: '172.20.1.2', remote: '172.20.2.2', port: 4789, ttl: 64, mtu: 1450, innerAddresses: ['10.255.9.2/30'] },
  ])
  t.same(ipsecConns(p, facts(1500)), [], 'unencrypted: charon has nothing to do with it')
  t.same(greLinks(p, facts(1500)), [])
  const own = policyWith(`${base}, type: vxlan, vxlan: { vni: 7, port: 8472, ttl: 9 } }`)
  t.match(vxlanLinks(own, facts(1500))[0], { port: 8472, ttl: 9 })
  const dhcp = policyWith(`${base}, type: vxlan, vxlan: { vni: 7 } }`, 'mode: dhcp')
  t.same(vxlanLinks(dhcp, { ...facts(1500), mpls: { up: false, addresses: [], mtu: 1500 } }), [], 'no underlay address yet: no link')
})

t.test('VXLAN routes go via the hub inner address, after the inner network', async t => {
  const p = policyWith(`${base}, type: vxlan, vxlan: { vni: 100 }, remotePrefixes: [10.20.0.0/16, "fd20::/48"] }`)
  const d = desired(p, initialDecisions(p), facts(1500))
  const table = d.paths.find(x => x.name === 'dc1-t')!.table
  t.same(
    d.routes.filter(r => r.table === table).map(describeRoute),
    [
      `ipv4 table ${table} 10.255.9.0/30 dev sw-dc1-t metric 100`,
      `ipv4 table ${table} 10.20.0.0/16 via 10.255.9.1 dev sw-dc1-t metric 100`,
      `ipv4 table ${table} 0.0.0.0/0 blackhole metric 4294967295`,
      `ipv6 table ${table} ::/0 blackhole metric 4294967295`,
    ],
    'no IPv6 inner pair: the IPv6 prefix has no next hop, and the blackhole keeps it from leaking',
  )
  const gre = policyWith(`${base}, type: gre, remotePrefixes: [10.20.0.0/16] }`)
  const g = desired(gre, initialDecisions(gre), facts(1500))
  t.same(g.routes.filter(r => r.table === table && r.type === 'unicast').map(describeRoute), [`ipv4 table ${table} 10.20.0.0/16 dev sw-dc1-t metric 100`], 'GRE is point-to-point: device routes')
})

t.test('the plan shows a VXLAN tunnel with its underlay, port, VNI and MTU', async t => {
  const p = policyWith(`${base}, type: vxlan, vxlan: { vni: 4097 }, remotePrefixes: [10.20.0.0/16] }`)
  const d = desired(p, initialDecisions(p), facts(1500))
  const text = planText(p, d, initialDecisions(p), facts(1500))
  t.match(text, /\n {2}sw-dc1-t +vxlan +172\.20\.1\.2 → 172\.20\.2\.2 udp\/4789 vni 4097 +10\.255\.9\.2\/30 ↔ 10\.255\.9\.1 +1450\n/)
  t.match(text, /-4 +10\.20\.0\.0\/16 via 10\.255\.9\.1 dev sw-dc1-t table \d+ metric 100 +# dc1-t reaches 10\.20\.0\.0\/16 via the hub's inner address/)
})
