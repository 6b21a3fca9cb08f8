// A class over a VXLAN tunnel, on the host kernel (it has VXLAN): the reconciler builds the link across
// the MPLS underlay to a hub namespace (the MPLS provider's, with the hub's VXLAN end and a DC address),
// ERP datagrams from the store reach the DC through it — the hub counts them arriving on its VXLAN
// device, and on the MPLS wire only as VXLAN (UDP 4789), never bare —, a drop decision stops them
// (fail closed), and a policy without the tunnel removes the link.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { desired, initialDecisions } from '../../../edge/dataplane/desired.js'
import { uplinkFacts } from '../../../edge/dataplane/facts.js'
import type { Decision } from '../../../edge/dataplane/model.js'
import { ownershipOf } from '../../../edge/dataplane/ports.js'
import { openKernelSession } from '../../../edge/dataplane/session.js'
import type { SitePolicy } from '../../../edge/config/policy.js'
import { enterTestNetns, inNs, run, sh, tsxNodeArgs } from './helpers/netns.js'
import { policyFromYaml } from './helpers/policy.js'
import { buildSite, counts } from './helpers/topology.js'

await enterTestNetns(import.meta.url, 'vxlan')

const ERP = 7100
const DC = '10.20.0.10'
const HUB_DEVICE = 'vx-hub'

const policyYaml = (erpPaths: string, tunnels: string): string => `
version: 1
serial: 1
site: { id: test-site }
device: { id: test-edge }
lan:
  - { name: store, interface: lan0, prefixes: [10.42.0.0/24] }
  - { name: guest, interface: lan1, prefixes: [10.142.0.0/24], isolated: true }
uplinks:
  - { name: bb, kind: broadband, interface: up-bb, addressing: { mode: static, ipv4: 192.0.2.2/24, gateway4: 192.0.2.1 } }
  - { name: lte, kind: lte, interface: up-lte, addressing: { mode: static, ipv4: 198.51.100.2/24, gateway4: 198.51.100.1 }, metered: true }
  - { name: mpls, kind: mpls, interface: up-mpls, addressing: { mode: static, ipv4: 203.0.113.2/24, gateway4: 203.0.113.1 } }
hubs:
  - { name: dc1, addresses: [203.0.113.1] }
${tunnels}
classes:
  - name: erp
    match: [{ segments: [store], destinationPrefixes: [10.20.0.0/16] }]
    paths: [${erpPaths}]
    whenNoPath: drop
  - name: web
    match: [{ segments: [store] }]
    paths: [bb]
  - name: guest
    match: [{ segments: [guest] }]
    paths: [bb]
`
const withTunnel = policyFromYaml(
  policyYaml('dc1-vx', 'tunnels:\n  - { name: dc1-vx, type: vxlan, hub: dc1, uplink: mpls, inner: { local: 10.255.7.2/30, remote: 10.255.7.1 }, remotePrefixes: [10.20.0.0/16], vxlan: { vni: 4097 } }'),
)
const withoutTunnel = policyFromYaml(policyYaml('mpls', ''))

const site = buildSite(t, [ERP])
const hub = site.provider.mpls
// The hub's end: the MPLS provider's namespace terminates the tunnel and holds the DC address.
for (const args of [
  ['link', 'add', HUB_DEVICE, 'type', 'vxlan', 'id', '4097', 'local', '203.0.113.1', 'remote', '203.0.113.2', 'dstport', '4789', 'nolearning'],
  ['addr', 'add', '10.255.7.1/30', 'dev', HUB_DEVICE],
  ['link', 'set', HUB_DEVICE, 'up'],
  ['addr', 'add', `${DC}/32`, 'dev', 'lo'],
])
  inNs(hub, 'ip', ...args)
// Counted in prerouting before anything can drop: bare ERP and VXLAN on the MPLS wire, ERP out of the tunnel.
const watch = `table inet vxwatch {
  counter vxlan_on_wire { }
  counter erp_bare_on_wire { }
  counter erp_from_tunnel { }
  chain in {
    type filter hook prerouting priority -300; policy accept;
    iifname "wan0" udp dport 4789 counter name "vxlan_on_wire"
    iifname "wan0" ip daddr ${DC} udp dport ${ERP} counter name "erp_bare_on_wire"
    iifname "${HUB_DEVICE}" ip daddr ${DC} udp dport ${ERP} counter name "erp_from_tunnel"
  }
}
`
if (run('ip', ['netns', 'exec', hub, 'nft', '-f', '-'], watch).status !== 0) throw new Error('hub watch table rejected')
const hubCounts = (): Record<string, number> => {
  const json = JSON.parse(inNs(hub, 'nft', '-j', 'list', 'counters', 'table', 'inet', 'vxwatch')) as { nftables: Array<{ counter?: { name: string; packets: number } }> }
  return Object.fromEntries(json.nftables.flatMap(i => (i.counter ? [[i.counter.name, i.counter.packets]] : [])))
}
const linkTx = (device: string): number => (JSON.parse(sh('ip', '-s', '-j', 'link', 'show', 'dev', device)) as Array<{ stats64: { tx: { packets: number } } }>)[0]!.stats64.tx.packets

const session = openKernelSession(ownershipOf(withTunnel.dataplane), () => undefined)
t.teardown(() => session.close())
const steer = async (t: Test, policy: SitePolicy, decisions: Decision[]) => {
  const r = await session.reconciler.set(desired(policy, decisions, uplinkFacts(policy, await session.kernel.facts())))
  t.same(r.failed.map(f => f.error.message), [], 'applied without failures')
  return r
}

const sender = spawn('ip', ['netns', 'exec', site.lan, process.execPath, ...tsxNodeArgs(), fileURLToPath(new URL('./helpers/udp-sender.ts', import.meta.url))])
const replies = createInterface({ input: sender.stdout })[Symbol.asyncIterator]()
t.teardown(() => void sender.stdin.end())
const send = async (sport: number, count: number): Promise<void> => {
  sender.stdin.write(`send 10.42.0.20 ${sport} ${DC} ${ERP} ${count}\n`)
  const next = await replies.next()
  if (next.value !== 'sent') throw new Error(`sender: ${String(next.value)}`)
}
/** Polls the hub's counters until `done` holds (packets cross veths and the tunnel asynchronously). */
async function settle(done: (c: Record<string, number>) => boolean): Promise<Record<string, number>> {
  for (let i = 0; i < 100 && !done(hubCounts()); i++) await new Promise(r => setTimeout(r, 20))
  return hubCounts()
}

t.test('ERP over the VXLAN tunnel reaches the DC through it, and only as VXLAN on the wire', async t => {
  const r = await steer(t, withTunnel, initialDecisions(withTunnel))
  t.ok(r.ops.some(o => o.kind === 'add-vxlan'), 'the link was created')
  t.match(JSON.parse(sh('ip', '-d', '-j', 'link', 'show', 'dev', 'sw-dc1-vx'))[0].linkinfo.info_data, { id: 4097, local: '203.0.113.2', remote: '203.0.113.1', port: 4789, learning: false, ttl: 64 })
  const tx = linkTx('sw-dc1-vx')
  await send(45000, 5)
  const c = await settle(c => c.erp_from_tunnel === 5)
  t.equal(c.erp_from_tunnel, 5, 'the hub received the 5 ERP datagrams out of its VXLAN device')
  t.ok(c.vxlan_on_wire! >= 5, `the MPLS wire carried them as VXLAN (${c.vxlan_on_wire} UDP 4789 packets, ARP included)`)
  t.equal(c.erp_bare_on_wire, 0, 'no bare ERP datagram on the MPLS wire')
  t.ok(linkTx('sw-dc1-vx') - tx >= 5, 'the edge sent them through sw-dc1-vx')
  const providers = counts(site)
  t.equal((providers.bb[ERP] ?? 0) + (providers.lte[ERP] ?? 0), 0, 'broadband and LTE saw none')
})

t.test('a drop decision stops ERP: fail closed, nothing through the tunnel or in the clear', async t => {
  const before = hubCounts()
  const dropped = initialDecisions(withTunnel).map(d => (d.class === 'erp' ? { ...d, active: [], keep: [], reason: 'test: dc1-vx down' } : d))
  await steer(t, withTunnel, dropped)
  await send(45001, 5)
  await new Promise(r => setTimeout(r, 300))
  const after = hubCounts()
  t.equal(after.erp_from_tunnel, before.erp_from_tunnel, 'none through the tunnel')
  t.equal(after.erp_bare_on_wire, 0, 'none in the clear')
  await steer(t, withTunnel, initialDecisions(withTunnel))
  await send(45002, 3)
  t.equal((await settle(c => c.erp_from_tunnel === before.erp_from_tunnel! + 3)).erp_from_tunnel, before.erp_from_tunnel! + 3, 'back on the tunnel, ERP arrives again')
})

t.test('a policy without the tunnel removes the link; ERP then rides MPLS directly', async t => {
  const r = await steer(t, withoutTunnel, initialDecisions(withoutTunnel))
  t.ok(r.ops.some(o => o.kind === 'del-vxlan'), 'the link is deleted')
  t.not(run('ip', ['link', 'show', 'dev', 'sw-dc1-vx']).status, 0, 'the kernel has no sw-dc1-vx')
  t.same((await session.kernel.dump()).vxlanLinks, [])
  const before = hubCounts()
  await send(45003, 4)
  const c = await settle(c => c.erp_bare_on_wire === before.erp_bare_on_wire! + 4)
  t.equal(c.erp_bare_on_wire, before.erp_bare_on_wire! + 4, 'the policy now sends ERP straight over MPLS')
  t.equal(c.erp_from_tunnel, before.erp_from_tunnel, 'and not through a tunnel')
  const down = await session.reconciler.set(null)
  t.same(down.reached.vxlanLinks, [], 'teardown leaves no link')
})
