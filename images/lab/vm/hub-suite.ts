// The hub mode on a real kernel: one boot of Debian's kernel (esp4, xfrm_interface: the host kernel has
// neither) runs scenarios/hub-termination.ts — the real `sdwan-edge run` on a hub policy terminating two
// tunnels of one edge, sticky replies per tunnel, the reflector through each, failover and fail-closed
// for the data centre's own traffic, SIGHUP reload, SIGTERM. Used by test/images/lab/vm/hub.test.ts.
import { LAB_ESP_PROPOSALS, LAB_IKE_PROPOSALS } from '../lab-policy.js'
import { BRANCH_MODULES, TUNNEL_MODULES, type ScenarioSuite } from './vm-suite.js'

export const HUB_MODULES: readonly string[] = [...BRANCH_MODULES, ...TUNNEL_MODULES]

export const HUB_SCRIPT = 'exec node --import tsx images/lab/vm/scenarios/hub-termination.ts\n'

export const HUB_CHECKS: readonly string[] = [
  'hub-started', 'hub-tunnels-up', 'hub-sticky-replies', 'hub-reflector', 'hub-esp-only', 'hub-dc-failover',
  'hub-down-no-cleartext', 'hub-reload', 'hub-teardown',
]

/** The lab's addressing: the retail store's dc1 side (policies/examples/hub-dc1.yaml) on lab underlays. */
export const HUB_LAB = {
  underlay: '203.0.113.10',
  ikeId: 'hub.dc1.example.net',
  dcPrefix: '10.20.0.0/16',
  dcService: '10.20.0.10',
  reflectorPort: 862,
  edge: { device: 'edge-0042-a', bb: '192.0.2.1', lte: '100.64.0.1', lan: '10.42.0.1', lanPrefix: '10.42.0.0/24' },
  tunnels: [
    { name: 'dc1-bb', id: 1, ikeId: 'edge-0042-a.bb', hubInner: '10.255.42.1', spokeInner: '10.255.42.2' },
    { name: 'dc1-lte', id: 2, ikeId: 'edge-0042-a.lte', hubInner: '10.255.42.5', spokeInner: '10.255.42.6' },
  ],
} as const

/** The lab hub's policy; serial 2 adds a second spoke (tunnel id 3) for the reload check. Pure. */
export function hubLabPolicy(pskFile: string, serial: 1 | 2): string {
  const proposals = `ikeProposals: [${LAB_IKE_PROPOSALS.join(', ')}], espProposals: [${LAB_ESP_PROPOSALS.join(', ')}], dpdDelayS: 2`
  const tunnel = (t: { name: string; id: number; ikeId: string; hubInner: string; spokeInner: string }, lan: string): string =>
    `      - { name: ${t.name}, id: ${t.id}, ikeId: ${t.ikeId}, auth: { pskFile: ${pskFile} }, inner: { local: ${t.hubInner}/30, remote: ${t.spokeInner} }, lanPrefixes: [${lan}], ${proposals} }`
  return [
    'version: 1',
    `serial: ${serial}`,
    'device: { id: hub-lab, role: hub }',
    `ikeId: ${HUB_LAB.ikeId}`,
    `underlay: { addresses: [${HUB_LAB.underlay}] }`,
    `dcPrefixes: [${HUB_LAB.dcPrefix}]`,
    `reflector: { port: ${HUB_LAB.reflectorPort} }`,
    'spokes:',
    `  - device: ${HUB_LAB.edge.device}`,
    '    tunnels:',
    ...HUB_LAB.tunnels.map(t => tunnel(t, HUB_LAB.edge.lanPrefix)),
    ...(serial === 2
      ? ['  - device: edge-0043-a', '    tunnels:', tunnel({ name: 'dc1-bb', id: 3, ikeId: 'edge-0043-a.bb', hubInner: '10.255.43.1', spokeInner: '10.255.43.2' }, '10.43.0.0/24')]
      : []),
    '',
  ].join('\n')
}

/** ~1.5 minutes in the guest on a loaded 2-core host. The hub, its charon, the edge's charon and the
 *  probe/status CLIs are node and charon processes: 2 GB. */
export const HUB_SUITE: ScenarioSuite = { label: 'hub', script: HUB_SCRIPT, modules: HUB_MODULES, checks: HUB_CHECKS, memoryMb: 2048, timeoutMs: 480_000 }
