// The hub planner and its renderings: per spoke tunnel an xfrm interface, a mark rule and a table; the
// spokes' table follows which tunnels are up (blackhole when none); the nft table marks and restores
// connections; the VICI conn tells tunnels apart by IKE identity with the tunnel's if_id; kernel ops
// move any kernel state to the plan and nothing else.
import t from 'tap'
import { describeOp, describeRoute, describeRule } from '../../../edge/dataplane/ops.js'
import { renderHubConn } from '../../../edge/hub/hub-conn.js'
import { hubKernelOps } from '../../../edge/hub/kernel-ops.js'
import { HUB_OWNERSHIP, hubIfId } from '../../../edge/hub/ownership.js'
import { planHub } from '../../../edge/hub/plan.js'
import type { HubPolicy } from '../../../edge/hub/policy.js'
import { parseHubPolicy } from '../../../edge/hub/load.js'
import { hubStatus, hubStatusText } from '../../../edge/hub/status.js'
import { parseIkeSas } from '../../../edge/dataplane/vici/sa-state.js'
import siteSchema from '../../../policies/schema/site-policy.schema.json' with { type: 'json' }

const YAML = `
version: 1
serial: 3
device: { id: hub-a, role: hub }
ikeId: hub.example.net
underlay: { addresses: [203.0.113.10] }
dcPrefixes: [10.20.0.0/16]
spokes:
  - device: edge-1
    tunnels:
      - { name: bb, id: 1, ikeId: edge-1.bb, auth: { pskFile: /k }, inner: { local: 10.255.0.1/30, remote: 10.255.0.2 }, lanPrefixes: [10.42.0.0/24] }
      - { name: lte, id: 2, ikeId: edge-1.lte, auth: { pskFile: /k }, inner: { local: 10.255.0.5/30, remote: 10.255.0.6, local6: "fd00:255::1/64", remote6: "fd00:255::2" }, lanPrefixes: [10.42.0.0/24, "fd42::/64"] }
  - device: edge-2
    tunnels:
      - { name: bb, id: 7, ikeId: edge-2.bb, auth: { caFile: /ca }, inner: { local: 10.255.0.9/30, remote: 10.255.0.10 }, lanPrefixes: [10.43.0.0/24], mtu: 1380 }
certificate: { certFile: /c, keyFile: /k2 }
`

function policy(): HubPolicy {
  const r = parseHubPolicy('p.yaml', YAML, () => true)
  if (!r.ok) throw new Error(r.errors.map(e => `${e.pointer}: ${e.message}`).join('\n'))
  return r.policy
}

t.test('one xfrm interface, mark rule and table per spoke tunnel', async t => {
  const plan = planHub(policy(), new Set())
  t.same(plan.interfaces, [
    { name: 'swh1', ifId: hubIfId(1), mtu: 1400, addresses: ['10.255.0.1/30'] },
    { name: 'swh2', ifId: hubIfId(2), mtu: 1400, addresses: ['10.255.0.5/30', 'fd00:255::1/64'] },
    { name: 'swh7', ifId: hubIfId(7), mtu: 1380, addresses: ['10.255.0.9/30'] },
  ])
  t.same(plan.rules.map(describeRule), [
    'ipv4 pref 11000 fwmark 0x1/0xfff lookup 2001',
    'ipv4 pref 11000 fwmark 0x2/0xfff lookup 2002',
    'ipv6 pref 11000 fwmark 0x2/0xfff lookup 2002',
    'ipv4 pref 11000 fwmark 0x7/0xfff lookup 2007',
    'ipv4 pref 11001 from all lookup 2000',
    'ipv6 pref 11001 from all lookup 2000',
  ])
  t.same(plan.reflectorAddresses, ['10.255.0.1', '10.255.0.5', 'fd00:255::1', '10.255.0.9', '203.0.113.10'])
})

t.test("the spokes' table routes each spoke to its first tunnel up, else blackholes it", async t => {
  const spokes = (up: string[]): string[] => planHub(policy(), new Set(up)).routes.filter(r => r.table === 2000).map(describeRoute)
  t.same(spokes([]), [
    'ipv4 table 2000 10.42.0.0/24 blackhole metric 0',
    'ipv6 table 2000 fd42::/64 blackhole metric 0',
    'ipv4 table 2000 10.43.0.0/24 blackhole metric 0',
  ])
  t.same(spokes(['edge-1.lte', 'edge-2.bb']), [
    'ipv4 table 2000 10.42.0.0/24 dev swh2 metric 0',
    'ipv6 table 2000 fd42::/64 dev swh2 metric 0',
    'ipv4 table 2000 10.43.0.0/24 dev swh7 metric 0',
  ])
  t.same(spokes(['edge-1.lte', 'edge-1.bb']), ['ipv4 table 2000 10.42.0.0/24 dev swh1 metric 0', 'ipv6 table 2000 fd42::/64 dev swh2 metric 0', 'ipv4 table 2000 10.43.0.0/24 blackhole metric 0'], 'policy order is preference, among the tunnels that carry the prefix')
  const tunnelTables = planHub(policy(), new Set()).routes.filter(r => r.table !== 2000).map(describeRoute)
  t.same(tunnelTables, ['ipv4 table 2001 0.0.0.0/0 dev swh1 metric 0', 'ipv4 table 2002 0.0.0.0/0 dev swh2 metric 0', 'ipv6 table 2002 ::/0 dev swh2 metric 0', 'ipv4 table 2007 0.0.0.0/0 dev swh7 metric 0'])
})

t.test('the nft table marks connections by arrival tunnel and restores the mark on replies', async t => {
  const nft = planHub(policy(), new Set()).nft
  t.match(nft, /^table inet sdwan_hub \{$/m)
  t.match(nft, /iifname vmap \{ "swh1" : goto from_1, "swh2" : goto from_2, "swh7" : goto from_7 \}/)
  t.match(nft, /chain from_7 \{\n {4}ct mark set ct mark & 0xfffff000 \| 0x00000007\n/)
  t.equal(nft.match(/ct direction reply ct mark & 0x00000fff != 0 meta mark set ct mark & 0x00000fff/g)?.length, 2, 'forwarded and local replies')
  t.match(nft, /type route hook output priority mangle/)
})

t.test('the conn: any remote address, told apart by IKE identity, if_id both ways, narrowed selectors', async t => {
  const p = policy()
  const plan = planHub(p, new Set())
  const psk = renderHubConn(p, plan.tunnels[1]!, { psk: 's3cret' })
  const conn = psk.loadConn as Record<string, any>
  t.same(conn.local_addrs, ['203.0.113.10'])
  t.same(conn.remote_addrs, ['%any'])
  t.same(conn.local, { auth: 'psk', id: 'hub.example.net' })
  t.same(conn.remote, { auth: 'psk', id: 'edge-1.lte' })
  const child = conn.children['edge-1.lte']
  t.equal(child.if_id_in, String(hubIfId(2)))
  t.equal(child.if_id_out, String(hubIfId(2)))
  t.same(child.local_ts, ['10.20.0.0/16', '10.255.0.5/32', 'fd00:255::1/128'])
  t.same(child.remote_ts, ['10.42.0.0/24', 'fd42::/64', '10.255.0.6/32', 'fd00:255::2/128'])
  t.same(psk.shared, [{ id: 'psk-edge-1.lte', type: 'IKE', data: 's3cret', owners: ['hub.example.net', 'edge-1.lte'] }])
  const x509 = renderHubConn(p, plan.tunnels[2]!, { caCert: Buffer.from('CA') }, { cert: Buffer.from('CERT'), key: Buffer.from('KEY') })
  t.same((x509.loadConn as Record<string, any>).remote, { auth: 'pubkey', id: 'edge-2.bb', cacerts: [Buffer.from('CA')] })
  t.same((x509.loadConn as Record<string, any>).local, { auth: 'pubkey', id: 'hub.example.net', certs: [Buffer.from('CERT')] })
  t.same(x509.shared, [])
  t.throws(() => renderHubConn(p, plan.tunnels[2]!, { caCert: Buffer.from('CA') }), /X.509 auth but the hub's certificate was not read/)
})

t.test('kernel ops: add what is missing, replace what differs, delete what the plan lost', async t => {
  const down = planHub(policy(), new Set())
  t.same(hubKernelOps(down, down), [], 'nothing to do once reached')
  const up = planHub(policy(), new Set(['edge-1.bb']))
  t.same(hubKernelOps(up, down).map(describeOp), ['replace-route ipv4 table 2000 10.42.0.0/24 dev swh1 metric 0'])
  const fromEmpty = hubKernelOps(down, { rules: [], routes: [] })
  t.equal(fromEmpty.filter(o => o.kind === 'add-route').length, down.routes.length)
  t.ok(fromEmpty.findIndex(o => o.kind === 'add-rule') > fromEmpty.findLastIndex(o => o.kind === 'add-route'), 'routes exist before rules lead to them')
  const flush = hubKernelOps({ rules: [], routes: [] }, down)
  t.ok(flush.findLastIndex(o => o.kind === 'del-rule') < flush.findIndex(o => o.kind === 'del-route'), 'rules go before their routes')
})

t.test("the hub's kernel ranges never meet the edge's defaults", async t => {
  const d = siteSchema.$defs.dataplane.properties
  const edgePrio = d.rulePriorities.default
  const edgeTables = d.tables.default
  const apart = (a: { from: number; to: number }, b: { from: number; to: number }): boolean => a.to < b.from || b.to < a.from
  t.ok(apart(HUB_OWNERSHIP.rulePriorities, edgePrio), 'rule priorities')
  t.ok(apart(HUB_OWNERSHIP.tables, edgeTables), 'tables')
  t.ok(HUB_OWNERSHIP.tables.from > 255, 'no reserved table')
  t.equal(Number.parseInt(d.fwmarkMask.default, 16) & 0xfff, 0, 'mark bits')
  t.not(HUB_OWNERSHIP.routeProtocol, d.routeProtocol.default, 'route protocol')
  t.not(HUB_OWNERSHIP.nftTable, d.nftTable.default, 'nft table')
  t.notOk(HUB_OWNERSHIP.tunnelPrefix.startsWith('sw-'), 'link names')
})

t.test('status: each spoke tunnel up or down with its counters', async t => {
  const p = policy()
  const up = new Set(['edge-1.bb'])
  const plan = planHub(p, up)
  const sas = parseIkeSas({ 'edge-1.bb': { uniqueid: '1', state: 'ESTABLISHED', 'remote-host': '198.51.100.2', 'child-sas': { 'edge-1.bb-1': { name: 'edge-1.bb', uniqueid: '2', state: 'INSTALLED' } } } })
  const s = hubStatus(p, plan, up, sas, new Map([['edge-1.bb', Date.UTC(2026, 0, 1, 12, 0, 5)]]), new Map([['swh1', { rxPackets: 5, txPackets: 4 }]]), [])
  t.same(s.tunnels[0], { spoke: 'edge-1', tunnel: 'bb', id: 1, device: 'swh1', state: 'up', since: Date.UTC(2026, 0, 1, 12, 0, 5), remote: '198.51.100.2', rxPackets: 5, txPackets: 4 })
  t.equal(s.tunnels[1]!.state, 'down')
  const text = hubStatusText(s)
  t.match(text, /^hub hub-a, policy serial 3: 1 of 3 spoke tunnels up$/m)
  t.match(text, /^ {2}edge-1 +bb +1 +swh1 +up +12:00:05 +198\.51\.100\.2 +5 +4$/m)
  t.match(text, /^ {2}edge-2 +bb +7 +swh7 +down +- +- +- +-$/m)
})
