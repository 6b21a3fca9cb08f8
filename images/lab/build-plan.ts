// Turns a Topology into the commands that build it, in order. Pure: the plan can be read, printed and
// compared in tests; lab-network.ts runs it. Objects are created with `ip -batch -` per namespace (one
// process per namespace, not per object).
import type { CommandRequest } from './command-runner.js'
import { netemArgs } from './provider-profiles.js'
import { NODES, PROVIDERS, type NodeName, type ProviderName, type Topology } from './topology.js'

export interface LabStep {
  /** What the step does, for error messages: "edge: addresses, links, routes". */
  readonly what: string
  readonly request: CommandRequest
}

/** Our nftables table in each provider namespace (impairments, traffic counters) and in the edge (NAT). */
export const PROVIDER_TABLE = 'sdwan_lab'
export const EDGE_NAT_TABLE = 'sdwan_lab_nat'
/** Chain the impairments rewrite; the forward chain jumps to it after counting. */
export const IMPAIR_CHAIN = 'impair'

function batch(namespace: string | undefined, what: string, lines: readonly string[]): LabStep {
  const argv = namespace === undefined ? ['ip', '-batch', '-'] : ['ip', '-n', namespace, '-batch', '-']
  return { what, request: { argv, input: lines.join('\n') + '\n' } }
}

function inNamespace(namespace: string, what: string, argv: readonly string[], input?: string): LabStep {
  return { what, request: { argv: ['ip', 'netns', 'exec', namespace, ...argv], ...(input === undefined ? {} : { input }) } }
}

function nodeInterfaces(topology: Topology, node: NodeName): Array<{ ifname: string; address?: string }> {
  const bridges = topology.bridges.filter(b => b.node === node).map(b => ({ ifname: b.name, address: b.address }))
  const ends = topology.links.flatMap(link => [link.a, link.b]).filter(end => end.node === node)
  return [...bridges, ...ends.map(end => (end.address === undefined ? { ifname: end.ifname } : { ifname: end.ifname, address: end.address }))]
}

/**
 * Counters per direction of the access link (so tests can tell which provider carried traffic) and an
 * empty impairment chain. Hooking forward only: the provider's own router keeps answering ARP and pings to
 * its address during a blackout, as an upstream outage does — only probes through it notice.
 */
export function providerRuleset(customerIfname: string): string {
  return [
    `table inet ${PROVIDER_TABLE} {`,
    '  counter from_edge { }',
    '  counter to_edge { }',
    `  chain ${IMPAIR_CHAIN} { }`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname "${customerIfname}" counter name "from_edge"`,
    `    oifname "${customerIfname}" counter name "to_edge"`,
    `    jump ${IMPAIR_CHAIN}`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** Source NAT on the internet uplinks, as the branch's CPE did before SD-WAN (local breakout). */
export function edgeNatRuleset(ifnames: readonly string[]): string {
  const set = ifnames.map(name => `"${name}"`).join(', ')
  return [
    `table ip ${EDGE_NAT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname { ${set} } masquerade`,
    '  }',
    '}',
    '',
  ].join('\n')
}

export function buildPlan(topology: Topology): LabStep[] {
  const ns = topology.namespaces
  const steps: LabStep[] = [batch(undefined, 'create namespaces', NODES.map(node => `netns add ${ns[node]}`))]

  // veth pairs are created from the `a` side with the peer placed straight into `b`'s namespace.
  for (const node of NODES) {
    const lines = [
      ...topology.bridges.filter(b => b.node === node).map(b => `link add ${b.name} type bridge`),
      ...topology.links
        .filter(link => link.a.node === node)
        .flatMap(link => [
          `link add ${link.a.ifname} type veth peer name ${link.b.ifname} netns ${ns[link.b.node]}`,
          ...(link.bridgeA === undefined ? [] : [`link set ${link.a.ifname} master ${link.bridgeA}`]),
        ]),
    ]
    if (lines.length > 0) steps.push(batch(ns[node], `${node}: create bridges and veth pairs`, lines))
  }

  for (const node of NODES) {
    const interfaces = nodeInterfaces(topology, node)
    const lines = [
      'link set lo up',
      ...topology.loopbacks.filter(l => l.node === node).map(l => `addr add ${l.address} dev lo`),
      ...interfaces.flatMap(i => [...(i.address === undefined ? [] : [`addr add ${i.address} dev ${i.ifname}`]), `link set ${i.ifname} up`]),
      ...topology.routes
        .filter(r => r.node === node)
        .map(r => `route add ${r.to} via ${r.via} dev ${r.dev}${r.metric === undefined ? '' : ` metric ${r.metric}`}`),
    ]
    steps.push(batch(ns[node], `${node}: addresses, links up, routes`, lines))
  }

  for (const node of topology.routers) {
    steps.push(inNamespace(ns[node], `${node}: enable forwarding`, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']))
  }
  for (const provider of PROVIDERS) {
    const uplink = topology.uplinks[provider]
    steps.push(inNamespace(ns[provider], `${provider}: counters and impairment chain`, ['nft', '-f', '-'], providerRuleset(uplink.providerIfname)))
  }
  if (topology.masqueradeOn.length > 0) {
    const ifnames = topology.masqueradeOn.map(p => topology.uplinks[p].ifname)
    steps.push(inNamespace(ns.edge, 'edge: masquerade on internet uplinks', ['nft', '-f', '-'], edgeNatRuleset(ifnames)))
  }
  return steps
}

/** netem on both directions of a provider: downstream on its customer side, upstream on its core side. */
export function netemSteps(topology: Topology, provider: ProviderName, rttMs: number, jitterMs: number): LabStep[] {
  const uplink = topology.uplinks[provider]
  const namespace = topology.namespaces[provider]
  return [uplink.providerIfname, uplink.coreIfname].map(dev => ({
    what: `${provider}: netem on ${dev}`,
    request: { argv: ['tc', '-n', namespace, 'qdisc', 'replace', 'dev', dev, 'root', 'netem', ...netemArgs(rttMs, jitterMs)] },
  }))
}
