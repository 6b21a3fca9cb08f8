// The retail branch as data, the commands that build it, impairments as commands, and buildLab's
// behaviour around failures — all without touching the kernel (a scripted CommandRunner).
import t from 'tap'
import { buildPlan, edgeNatRuleset, providerRuleset } from '../../../images/lab/build-plan.js'
import type { CommandRequest, CommandResult } from '../../../images/lab/command-runner.js'
import { impairmentSteps, restoreSteps } from '../../../images/lab/impairments.js'
import { buildLab, namespacesWithPrefix, NO_NETEM, parseCounters } from '../../../images/lab/lab-network.js'
import { netemArgs } from '../../../images/lab/provider-profiles.js'
import { NODES, PROVIDERS, retailBranch } from '../../../images/lab/topology.js'
import { labPolicy } from '../../../images/lab/lab-policy.js'
import { parsePolicy } from '../../../edge/config/load.js'

const topology = retailBranch('tp1-')

function ipv4(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
}

function inSubnet(address: string, cidr: string): boolean {
  const [net = '', bits = '32'] = cidr.split('/')
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0
  return ((ipv4(address) & mask) >>> 0) === ((ipv4(net) & mask) >>> 0)
}

t.test('retail branch description', async t => {
  t.same(Object.values(topology.namespaces), NODES.map(node => `tp1-${node}`))
  const interfaces = [
    ...topology.bridges.map(b => ({ node: b.node, ifname: b.name, address: b.address })),
    ...topology.links.flatMap(l => [l.a, l.b]),
  ]
  for (const node of NODES) {
    const names = interfaces.filter(i => i.node === node).map(i => i.ifname)
    t.equal(new Set(names).size, names.length, `${node}: interface names unique (${names.join(', ')})`)
    t.ok(names.every(name => name.length <= 15), `${node}: names fit IFNAMSIZ`)
  }
  const addresses = [...interfaces.flatMap(i => (i.address ? [i.address] : [])), ...topology.loopbacks.map(l => l.address)]
  t.equal(new Set(addresses.map(a => a.split('/')[0])).size, addresses.length, 'every address is used once')
  for (const route of topology.routes) {
    const dev = interfaces.find(i => i.node === route.node && i.ifname === route.dev)
    t.ok(dev?.address && inSubnet(route.via, dev.address), `${route.node}: ${route.to} via ${route.via} is on ${route.dev}`)
  }
  for (const provider of PROVIDERS) {
    const uplink = topology.uplinks[provider]
    t.ok(inSubnet(uplink.gateway, `${uplink.address}/${uplink.prefixLength}`), `${provider}: gateway on the uplink's subnet`)
  }
  t.throws(() => retailBranch('Lab'), { name: 'TopologyPrefixError', message: /end with "-"/ })
  t.throws(() => retailBranch('a-very-long-prefix-'), { name: 'TopologyPrefixError' })
})

t.test('build plan', async t => {
  const plan = buildPlan(topology)
  t.same(plan[0]?.request, { argv: ['ip', '-batch', '-'], input: NODES.map(n => `netns add tp1-${n}\n`).join('') })
  const edgeLinks = plan.find(s => s.what === 'edge: create bridges and veth pairs')
  t.match(edgeLinks?.request.input, /^link add br-store type bridge$/m)
  t.match(edgeLinks?.request.input, /^link add wan-bb type veth peer name cust netns tp1-bb$/m)
  t.match(edgeLinks?.request.input, /^link set store-pos master br-store$/m)
  const edge = plan.find(s => s.what === 'edge: addresses, links up, routes')
  t.same(edge?.request.argv, ['ip', '-n', 'tp1-edge', '-batch', '-'])
  t.match(edge?.request.input, /^addr add 192\.0\.2\.2\/29 dev wan-bb$/m)
  t.match(edge?.request.input, /^route add default via 192\.0\.2\.1 dev wan-bb metric 100$/m)
  t.match(edge?.request.input, /^route add default via 198\.51\.100\.1 dev wan-lte metric 200$/m)
  const whats = plan.map(s => s.what)
  t.ok(whats.indexOf('edge: create bridges and veth pairs') < whats.indexOf('edge: addresses, links up, routes'), 'links before addresses')
  t.same(
    plan.filter(s => s.request.argv.includes('sysctl')).map(s => s.request.argv[3]),
    topology.routers.map(node => `tp1-${node}`),
  )
  t.match(providerRuleset('cust'), /iifname "cust" counter name "from_edge"/)
  t.match(edgeNatRuleset(['wan-bb', 'wan-lte']), /oifname \{ "wan-bb", "wan-lte" \} masquerade/)
})

t.test('netem arguments split the round trip over both directions', async t => {
  t.same(netemArgs(15, 1), ['delay', '7.5ms', '0.5ms', 'distribution', 'normal'])
  t.same(netemArgs(8, 0), ['delay', '4ms'])
})

t.test('impairments as commands', async t => {
  const inputs = (steps: ReturnType<typeof impairmentSteps>) => steps.map(s => s.request.input ?? s.request.argv.join(' '))
  t.same(inputs(impairmentSteps(topology, 'bb', { kind: 'blackout' })), [
    'flush chain inet sdwan_lab impair\nadd rule inet sdwan_lab impair drop\n',
  ])
  t.same(impairmentSteps(topology, 'bb', { kind: 'blackout' })[0]?.request.argv, ['ip', 'netns', 'exec', 'tp1-bb', 'nft', '-f', '-'])
  t.match(inputs(impairmentSteps(topology, 'lte', { kind: 'loss', percent: 30 })), [/numgen random mod 10000 < 3000 drop/])
  t.match(inputs(impairmentSteps(topology, 'lte', { kind: 'loss', percent: 0.35 })), [/numgen random mod 10000 < 35 drop/], 'fractions of a percent are kept')
  t.match(inputs(impairmentSteps(topology, 'lte', { kind: 'loss', percent: 100 })), [/impair drop\n$/])
  t.same(inputs(impairmentSteps(topology, 'lte', { kind: 'loss', percent: 0 })), ['flush chain inet sdwan_lab impair\n'])
  t.throws(() => impairmentSteps(topology, 'lte', { kind: 'loss', percent: 150 }), { name: 'ImpairmentError' })
  t.same(inputs(impairmentSteps(topology, 'mpls', { kind: 'carrier-loss' })), ['ip -n tp1-mpls link set cust down'])
  t.same(inputs(impairmentSteps(topology, 'lte', { kind: 'jitter', jitterMs: 30 })), [
    'tc -n tp1-lte qdisc replace dev cust root netem delay 22.5ms 15ms distribution normal',
    'tc -n tp1-lte qdisc replace dev core root netem delay 22.5ms 15ms distribution normal',
  ])
  t.same(inputs(restoreSteps(topology, 'bb', false)), ['flush chain inet sdwan_lab impair\n', 'ip -n tp1-bb link set cust up'])
  t.equal(restoreSteps(topology, 'bb', true).length, 4, 'with netem the profile comes back too')
})

t.test('parsing ip netns list and nft counters', async t => {
  t.same(namespacesWithPrefix('tp1-edge (id: 3)\ntp10-edge\nother\ntp1-bb\n', 'tp1-'), ['tp1-edge', 'tp1-bb'])
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'inet', name: 'from_edge', table: 'sdwan_lab', handle: 1, packets: 7, bytes: 588 } },
      { counter: { family: 'inet', name: 'to_edge', table: 'sdwan_lab', handle: 2, packets: 5, bytes: 420 } },
    ],
  })
  t.same(parseCounters(json, 'bb'), { fromEdge: 7, toEdge: 5 })
  t.throws(() => parseCounters('{"nftables":[]}', 'bb (tp1-bb)'), { message: /bb \(tp1-bb\): nft has no counter "from_edge"/ })
})

/** A runner that answers from a script and records every request. */
function scriptedRunner(answer: (request: CommandRequest) => Partial<CommandResult> | undefined) {
  const requests: CommandRequest[] = []
  const run = async (request: CommandRequest): Promise<CommandResult> => {
    requests.push(request)
    return { code: 0, stdout: '', stderr: '', ...answer(request) }
  }
  return { run, requests }
}

t.test('buildLab reports a kernel without netem instead of failing', async t => {
  const { run } = scriptedRunner(r => (r.argv[0] === 'tc' ? { code: 2, stderr: 'Error: Specified qdisc kind is unknown.\n' } : undefined))
  const lab = await buildLab(topology, run)
  t.same(lab.netem.lte, { applied: false, detail: NO_NETEM })
  await t.rejects(lab.impair('lte', { kind: 'jitter', jitterMs: 20 }), { name: 'NetemUnavailableError', message: /jitter ± 20 ms on lte: not applied: no netem/ })
})

t.test('buildLab applies the profiles where netem exists', async t => {
  const { run, requests } = scriptedRunner(() => undefined)
  const lab = await buildLab(topology, run)
  t.same(lab.netem.lte, { applied: true, detail: 'LTE 45 ms ± 8 ms' })
  t.equal(requests.filter(r => r.argv[0] === 'tc').length, 6, 'both directions of three providers')
})

t.test('a failed build tears down what it made and names the step', async t => {
  let listed = false
  const { run, requests } = scriptedRunner(r => {
    if (r.argv.join(' ') === 'ip netns list') return { stdout: listed ? 'tp1-edge\ntp1-bb\nunrelated\n' : '' }
    if (r.argv.join(' ') === 'ip -n tp1-edge -batch -' && r.input?.includes('route add')) {
      listed = true
      return { code: 1, stderr: 'Error: Nexthop has invalid gateway.\nCommand failed -:9\n' }
    }
    return undefined
  })
  await t.rejects(buildLab(topology, run), { name: 'LabStepError', message: /"edge: addresses, links up, routes" failed: .*Nexthop has invalid gateway/ })
  const deleted = requests.filter(r => r.argv.slice(0, 3).join(' ') === 'ip netns del').map(r => r.argv[3])
  t.same(deleted, ['tp1-edge', 'tp1-bb'], 'only namespaces with the prefix deleted')
})

t.test('the lab policy with the uplinks alone: valid, no hub, no tunnel, no POS', async t => {
  const r = parsePolicy('lab.yaml', labPolicy(retailBranch('d-'), { directOnly: true }))
  if (!r.ok) return t.fail(r.errors.map(e => `${e.pointer}: ${e.message}`).join('; '))
  t.same(r.policy.uplinks.map(u => u.name), ['bb', 'lte', 'mpls'])
  t.same([r.policy.hubs.length, r.policy.tunnels.length], [0, 0])
  t.same(r.policy.classes.map(c => c.name), ['voip', 'erp', 'guest', 'store-web'])
})
