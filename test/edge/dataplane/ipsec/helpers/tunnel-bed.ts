// A test bed for the IPsec tunnels layer: a NetnsPair (edge a, hub b), a policy with tunnels t1…tN over
// the one uplink (each to a hub entry of its own at the hub's address: the policy allows one tunnel of a
// type per uplink and hub), a PSK file, and hub responders (images/lab/hub-ipsec.ts) on ports the edge is
// told directly. The hub's own route to the branch LAN points back over the underlay in the clear, as
// MPLS does in the lab: only the hub's connmark keeps replies in their tunnel.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnCommandRunner } from '../../../../../images/lab/command-runner.js'
import { startHubResponders, type HubResponders, type HubTunnel } from '../../../../../images/lab/hub-ipsec.js'
import { createNetnsPair, ip, type NetnsPair } from './netns-pair.js'
import { makeTestPki } from './test-pki.js'

export const IKE = ['aes256-sha256-x25519']
export const ESP = ['aes256-sha256']
/** The LAN prefix (the edge's loopback 10.1.0.1) and the DC prefix (the hub's loopback 10.2.0.1). */
export const LAN = '10.1.0.0/24'
export const DC = '10.2.0.0/24'

export interface TunnelBed {
  readonly net: NetnsPair
  readonly dir: string
  readonly policyFile: string
  readonly tunnels: readonly string[]
  readonly hub: HubResponders
  readonly hubLog: string[]
  /** Edge inner address/len and hub inner address of tunnel i (0-based): 10.255.0.(4i+2)/30 ↔ .(4i+1). */
  inner(tunnel: string): { edge: string; hub: string }
  /** Options for manager-child.ts. */
  managerOptions(ikePortBase: number): object
  destroy(): Promise<void>
}

/** `auth`: a PSK file, or X.509 (a throwaway CA, certificates for edge.test and hub.test, files in the policy). */
export async function startTunnelBed(prefix: string, count: number, hubPortBase = 15_500, auth: 'psk' | 'x509' = 'psk'): Promise<TunnelBed> {
  const dir = await mkdtemp(join(tmpdir(), `sdwan-${prefix}-`))
  const net = await createNetnsPair(prefix)
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true }), () => net.destroy()]
  const destroy = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined)
  }
  try {
    const tunnels = Array.from({ length: count }, (_, i) => `t${i + 1}`)
    const inner = (tunnel: string) => {
      const i = tunnels.indexOf(tunnel)
      return { edge: `10.255.0.${4 * i + 2}/30`, hub: `10.255.0.${4 * i + 1}` }
    }
    const psk = `bed-${process.pid}-${Date.now()}`
    const pskFile = join(dir, 'psk')
    await writeFile(pskFile, `${psk}\n`, { mode: 0o600 })
    const pki = auth === 'x509' ? await makeTestPki(dir, ['edge.test', 'hub.test']) : undefined
    const edgeCert = pki?.entities['edge.test']
    const policyAuth = edgeCert ? `{ certFile: ${edgeCert.certPath}, keyFile: ${edgeCert.keyPath}, caFile: ${pki!.caCertPath} }` : `{ pskFile: ${pskFile} }`
    const hubCert = pki?.entities['hub.test']
    const policyFile = join(dir, 'policy.yaml')
    await writeFile(
      policyFile,
      [
        'version: 1',
        'serial: 1',
        `site: { id: ${prefix}-bed }`,
        'device: { id: edge.test }',
        'lan:',
        `  - { name: store, interface: lo, prefixes: [${LAN}] }`,
        '  - { name: guest, interface: guest0, prefixes: [10.9.0.0/24], isolated: true }',
        'uplinks:',
        `  - { name: u1, kind: broadband, interface: ${prefix}${process.pid}x, addressing: { mode: static, ipv4: ${net.a.underlay}/24, gateway4: ${net.b.underlay} } }`,
        'hubs:',
        ...tunnels.map(t => `  - { name: hub-${t}, addresses: [${net.b.underlay}], ikeId: hub.test }`),
        'tunnels:',
        ...tunnels.map(
          t =>
            `  - { name: ${t}, type: ipsec, hub: hub-${t}, uplink: u1, inner: { local: ${inner(t).edge}, remote: ${inner(t).hub} }, remotePrefixes: [${DC}], ` +
            `ipsec: { auth: ${policyAuth}, ikeProposals: [${IKE.join(', ')}], espProposals: [${ESP.join(', ')}], dpdDelayS: 2 } }`,
        ),
        'classes:',
        `  - { name: store, match: [{ segments: [store] }], paths: [${tunnels.join(', ')}] }`,
        '',
      ].join('\n'),
    )
    const hubLog: string[] = []
    const hubTunnels: HubTunnel[] = tunnels.map(t => ({
      name: t,
      edgeAddress: net.a.underlay,
      hubAddress: net.b.underlay,
      edgeId: 'edge.test',
      hubId: 'hub.test',
      psk,
      ...(hubCert ? { x509: { certPath: hubCert.certPath, keyPath: hubCert.keyPath, caCertPath: pki!.caCertPath } } : {}),
      hubInner: `${inner(t).hub}/30`,
      edgeInner: inner(t).edge.split('/')[0]!,
      hubPrefixes: [DC],
      edgePrefixes: [LAN],
      ikeProposals: IKE,
      espProposals: ESP,
    }))
    const hub = await startHubResponders(
      { netns: net.b.netns, runDir: join(dir, 'hub'), tunnels: hubTunnels, ikePortBase: hubPortBase, publicPorts: false, onLog: (n, l) => hubLog.push(`${n} ${l}`) },
      spawnCommandRunner(),
    )
    cleanups.push(() => hub.stop())
    await ip('-n', net.b.netns, 'route', 'add', LAN, 'via', net.a.underlay)
    return {
      net,
      dir,
      policyFile,
      tunnels,
      hub,
      hubLog,
      inner,
      managerOptions: ikePortBase => ({ runDir: join(dir, 'edge'), ikePortBase, hubPorts: Object.fromEntries(tunnels.map(t => [t, hub.edgeFacingPort(t)])) }),
      destroy,
    }
  } catch (err) {
    await destroy()
    throw err
  }
}
