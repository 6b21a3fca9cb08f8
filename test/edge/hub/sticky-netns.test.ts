// The hub plan's rules, routes and nft table on the real host kernel, in throwaway namespaces: a spoke
// with two tunnels to the same LAN (veth pairs named swh1 and swh2 stand in for the xfrm interfaces,
// which this kernel lacks; the VM lab runs the real ones in test/images/lab/vm/hub.test.ts) pings a DC host through each.
// Each tunnel's replies leave by that tunnel although the hub's route to the spoke's LAN names swh1; with
// the nft table removed, LTE's replies leave by swh1, so the counters can tell. Applying twice is a no-op.
import { writeFileSync } from 'node:fs'
import t from 'tap'
import { NftCliPort } from '../../../edge/dataplane/nft/port.js'
import { RtnlKernelPort } from '../../../edge/dataplane/rtnl/port.js'
import { hubKernelOps } from '../../../edge/hub/kernel-ops.js'
import { parseHubPolicy } from '../../../edge/hub/load.js'
import { HUB_NFT_TABLE, HUB_OWNERSHIP } from '../../../edge/hub/ownership.js'
import { planHub } from '../../../edge/hub/plan.js'
import { enterTestNetns, extraNetns, inNs, run, sh } from '../dataplane/helpers/netns.js'

await enterTestNetns(import.meta.url, 'hubsticky')

const POLICY = `
version: 1
serial: 1
device: { id: hub-t, role: hub }
ikeId: hub.test
underlay: { addresses: [203.0.113.10] }
dcPrefixes: [10.20.0.0/16]
spokes:
  - device: edge-1
    tunnels:
      - { name: bb, id: 1, ikeId: edge-1.bb, auth: { pskFile: /k }, inner: { local: 10.255.42.1/30, remote: 10.255.42.2 }, lanPrefixes: [10.42.0.0/24] }
      - { name: lte, id: 2, ikeId: edge-1.lte, auth: { pskFile: /k }, inner: { local: 10.255.42.5/30, remote: 10.255.42.6 }, lanPrefixes: [10.42.0.0/24] }
`

// Echo replies counted per outgoing interface, in a table of the test's own (interface counters would
// also count ARP and the kernel's own chatter).
const WATCH = `table inet hub_test_watch {
  counter swh1 {}
  counter swh2 {}
  chain post {
    type filter hook postrouting priority 0; policy accept;
    icmp type echo-reply oifname "swh1" counter name swh1
    icmp type echo-reply oifname "swh2" counter name swh2
  }
}
`

function replies(): { swh1: number; swh2: number } {
  const items = (JSON.parse(sh('nft', '-j', 'list', 'counters', 'table', 'inet', 'hub_test_watch')) as { nftables: Array<{ counter?: { name: string; packets: number } }> }).nftables
  const count = (name: string): number => items.find(i => i.counter?.name === name)?.counter?.packets ?? Number.NaN
  return { swh1: count('swh1'), swh2: count('swh2') }
}

function ping(spoke: string, mark: number): number {
  const r = run('ip', ['netns', 'exec', spoke, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '-m', String(mark), '-I', '10.42.0.1', '10.20.0.10'])
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0)
}

t.test('replies leave by the tunnel their connection came in on', async t => {
  const spoke = extraNetns(t, `swhs-s${process.pid}`)
  const dc = extraNetns(t, `swhs-d${process.pid}`)
  for (const [hubEnd, spokeEnd, hubAddr, spokeAddr] of [['swh1', 't1', '10.255.42.1/30', '10.255.42.2/30'], ['swh2', 't2', '10.255.42.5/30', '10.255.42.6/30']] as const) {
    sh('ip', 'link', 'add', hubEnd, 'type', 'veth', 'peer', 'name', spokeEnd, 'netns', spoke)
    sh('ip', 'addr', 'add', hubAddr, 'dev', hubEnd)
    sh('ip', 'link', 'set', hubEnd, 'up')
    inNs(spoke, 'ip', 'addr', 'add', spokeAddr, 'dev', spokeEnd)
    inNs(spoke, 'ip', 'link', 'set', spokeEnd, 'up')
    writeFileSync(`/proc/sys/net/ipv4/conf/${hubEnd}/rp_filter`, '2')
  }
  sh('ip', 'link', 'add', 'h-dc', 'type', 'veth', 'peer', 'name', 'd0', 'netns', dc)
  sh('ip', 'addr', 'add', '10.20.0.1/24', 'dev', 'h-dc')
  sh('ip', 'link', 'set', 'h-dc', 'up')
  inNs(dc, 'ip', 'addr', 'add', '10.20.0.10/24', 'dev', 'd0')
  inNs(dc, 'ip', 'link', 'set', 'd0', 'up')
  inNs(dc, 'ip', 'route', 'add', 'default', 'via', '10.20.0.1')
  inNs(spoke, 'ip', 'addr', 'add', '10.42.0.1/32', 'dev', 'lo')
  // veth is Ethernet: the spoke routes via the hub's inner address (an xfrm interface needs no next hop).
  for (const [mark, dev, via] of [['1', 't1', '10.255.42.1'], ['2', 't2', '10.255.42.5']] as const) {
    inNs(spoke, 'ip', 'route', 'add', '10.20.0.0/16', 'via', via, 'dev', dev, 'table', `10${mark}`)
    inNs(spoke, 'ip', 'rule', 'add', 'fwmark', mark, 'lookup', `10${mark}`)
  }
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1')
  const watched = run('nft', ['-f', '-'], WATCH)
  if (watched.status !== 0) throw new Error(`nft: ${watched.stderr}`)

  const parsed = parseHubPolicy('hub.yaml', POLICY, () => true)
  if (!parsed.ok) throw new Error(parsed.errors.map(e => e.message).join('\n'))
  const plan = planHub(parsed.policy, new Set(['edge-1.bb', 'edge-1.lte']))
  const kernel = new RtnlKernelPort(HUB_OWNERSHIP)
  t.teardown(() => kernel.close())
  const nft = new NftCliPort()
  const ops = hubKernelOps(plan, await kernel.dump())
  t.same((await kernel.apply(ops)).filter(Boolean), [], 'the kernel took every rule and route')
  await nft.load(HUB_NFT_TABLE, plan.nft)
  t.same(hubKernelOps(plan, await kernel.dump()), [], 'dumped back, the kernel holds exactly the plan')
  t.match(sh('ip', 'route', 'show', 'table', '2000'), /^10\.42\.0\.0\/24 dev swh1 proto 202/m, "the DC's own route to the spoke names swh1")

  const a = replies()
  t.equal(ping(spoke, 1), 3, "broadband's tunnel: answered")
  const b = replies()
  t.equal(ping(spoke, 2), 3, "LTE's tunnel: answered")
  const c = replies()
  t.same([b.swh1 - a.swh1, b.swh2 - a.swh2], [3, 0], "broadband's 3 replies left by swh1, none by swh2")
  t.same([c.swh1 - b.swh1, c.swh2 - b.swh2], [0, 3], "LTE's 3 replies left by swh2, none by swh1")

  await nft.remove(HUB_NFT_TABLE)
  sh('conntrack', '-F')
  const d = replies()
  ping(spoke, 2)
  const e = replies()
  t.same([e.swh1 - d.swh1, e.swh2 - d.swh2], [3, 0], "without the connmark table LTE's replies leave by swh1: the counters tell the difference")

  t.same((await kernel.apply(hubKernelOps({ rules: [], routes: [] }, await kernel.dump()))).filter(Boolean), [], 'flushed')
  t.same(await kernel.dump().then(s => [s.rules.length, s.routes.length]), [0, 0], 'nothing of ours left')
})
