// gre-over-ipsec in the VM lab, on three namespaces of its own: the edge (gre-ipsec-edge.ts: the GRE link
// through the reconciler's port, the tunnel manager on kernel ESP), a provider routing between the two
// underlays and counting what crosses it (nft, forward hook: only wire packets, never decrypted ones), and a
// hub with a kernel GRE link and a kernel-ESP charon answering the transport-mode CHILD_SA. Checks:
//   gre-ipsec-traffic        pings between the GRE inner addresses answered, the edge's GRE link counting them;
//   gre-ipsec-esp-only       once the tunnel is up, on the wire ESP in UDP and no GRE in the clear;
//   gre-ipsec-no-cleartext-down  the hub's charon stopped: the tunnel is reported down, pings fail, and still
//                            no GRE leaves in the clear (the edge's trap policy holds it).
// What the edge sent in the clear before its charon installed the trap (the GRE link exists first, as the
// daemon's reconciler makes it before the tunnel manager starts charon) is counted and reported, not
// asserted: the kernel's IPv6 router solicitation on a new GRE link crosses in that window (issue #5).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadTunnel, renderTunnel } from '../../../../edge/dataplane/ipsec/tunnel-conn.js'
import { runChecked, type CommandRunner } from '../../command-runner.js'
import { LAB_ESP_PROPOSALS, LAB_IKE_PROPOSALS } from '../../lab-policy.js'
import { lineSplitter, type LongRunningProcess, type SpawnLongRunning } from '../../long-running-process.js'
import { linkCounters } from '../../link-counters.js'
import { installWireCounters, readWireCounters, wireDelta, type WireCounters } from './wire-counters.js'
import { startTestCharon, type TestCharon } from './test-charon.js'

const CHILD = fileURLToPath(new URL('./gre-ipsec-edge.ts', import.meta.url))
const NS = { edge: 'gix-e', provider: 'gix-p', hub: 'gix-h' } as const
const EDGE = { underlay: '192.0.2.1', inner: '10.255.1.2' }
const HUB = { underlay: '198.51.100.1', inner: '10.255.1.1' }
const EDGE_ID = 'edge.gix.example'
const HUB_ID = 'hub.gix.example'
/** tunnelPlanOptions' IKE port base 14500, slot 0: the kernel backend's conn sits on the NAT-T port. */
const EDGE_NATT_PORT = 14_501

export type Report = (name: string, ok: boolean, detail: string) => void

export function greIpsecPolicy(pskFile: string): string {
  return `version: 1
serial: 1
site: { id: gix }
device: { id: ${EDGE_ID} }
lan:
  - { name: store, interface: br-gix, prefixes: [10.66.0.0/24] }
uplinks:
  - { name: bb, kind: broadband, interface: e0, addressing: { mode: static, ipv4: ${EDGE.underlay}/24, gateway4: 192.0.2.254 } }
hubs:
  - { name: dc1, addresses: [${HUB.underlay}], ikeId: ${HUB_ID} }
tunnels:
  - { name: gre-bb, type: gre-over-ipsec, hub: dc1, uplink: bb, inner: { local: ${EDGE.inner}/30, remote: ${HUB.inner} }, remotePrefixes: [10.20.0.0/16], ipsec: { auth: { pskFile: ${pskFile} }, ikeProposals: [${LAB_IKE_PROPOSALS.join(', ')}], espProposals: [${LAB_ESP_PROPOSALS.join(', ')}] } }
classes:
  - { name: pos, match: [{ segments: [store] }], paths: [gre-bb] }
`
}

const ns = (name: string, ...argv: string[]): readonly string[] => ['ip', 'netns', 'exec', name, ...argv]

async function buildNamespaces(run: CommandRunner): Promise<void> {
  const steps: string[][] = [
    ...Object.values(NS).map(n => ['ip', 'netns', 'add', n]),
    ['ip', '-n', NS.edge, 'link', 'add', 'e0', 'type', 'veth', 'peer', 'name', 'pe', 'netns', NS.provider],
    ['ip', '-n', NS.hub, 'link', 'add', 'h0', 'type', 'veth', 'peer', 'name', 'ph', 'netns', NS.provider],
    ['ip', '-n', NS.edge, 'addr', 'add', `${EDGE.underlay}/24`, 'dev', 'e0'],
    ['ip', '-n', NS.provider, 'addr', 'add', '192.0.2.254/24', 'dev', 'pe'],
    ['ip', '-n', NS.provider, 'addr', 'add', '198.51.100.254/24', 'dev', 'ph'],
    ['ip', '-n', NS.hub, 'addr', 'add', `${HUB.underlay}/24`, 'dev', 'h0'],
    ...[[NS.edge, 'e0'], [NS.provider, 'pe'], [NS.provider, 'ph'], [NS.hub, 'h0']].map(([n, dev]) => ['ip', '-n', n!, 'link', 'set', dev!, 'up']),
    ...Object.values(NS).map(n => ['ip', '-n', n, 'link', 'set', 'lo', 'up']),
    ['ip', '-n', NS.edge, 'route', 'add', 'default', 'via', '192.0.2.254'],
    ['ip', '-n', NS.hub, 'route', 'add', 'default', 'via', '198.51.100.254'],
    [...ns(NS.provider, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')],
  ]
  for (const argv of steps) await runChecked(run, { argv })
  // Counting from before either end's GRE link exists: whatever leaves in the clear is seen.
  await installWireCounters(run, NS.provider, ['10.255.1.0/30'], 'pe')
}

/** The hub's end of GRE, made by hand (the hub role is not the edge firmware under test here), once its charon
 *  holds the trap policy. */
async function hubGre(run: CommandRunner): Promise<void> {
  for (const argv of [
    ['ip', '-n', NS.hub, 'link', 'add', 'gre1', 'type', 'gre', 'local', HUB.underlay, 'remote', EDGE.underlay, 'ttl', '64'],
    // As the edge's (rtnl/codec.ts greCreateRequest): no IPv6 link-local, no solicitation into the trap.
    ['ip', '-n', NS.hub, 'link', 'set', 'gre1', 'addrgenmode', 'none'],
    ['ip', '-n', NS.hub, 'addr', 'add', `${HUB.inner}/30`, 'dev', 'gre1'],
    ['ip', '-n', NS.hub, 'link', 'set', 'gre1', 'up'],
  ]) {
    await runChecked(run, { argv })
  }
}

async function startHub(workDir: string, psk: string, log: string[]): Promise<TestCharon> {
  const hub = await startTestCharon('gix-hub', NS.hub, workDir, { ikePort: 500, natTPort: 4500 }, log)
  const rendered = renderTunnel({
    name: 'gre-bb',
    local: { address: HUB.underlay, ikePort: 4500, id: HUB_ID },
    remote: { address: EDGE.underlay, ikePort: EDGE_NATT_PORT, id: EDGE_ID },
    auth: { kind: 'psk', secret: psk },
    localTs: [`${HUB.underlay}/32[gre]`],
    remoteTs: [`${EDGE.underlay}/32[gre]`],
    ikeProposals: LAB_IKE_PROPOSALS,
    espProposals: LAB_ESP_PROPOSALS,
    mode: 'transport',
    // The hub's GRE must not leave in the clear either while no SA is up.
    startAction: 'trap',
  })
  await loadTunnel(hub.client, rendered)
  return hub
}

interface EdgeChild {
  readonly process: LongRunningProcess
  readonly lines: string[]
  /** The last `state` line's tunnel state. */
  up(): boolean | undefined
  waitFor(predicate: (lines: readonly string[]) => boolean, timeoutMs: number): Promise<boolean>
}

function startEdge(spawn: SpawnLongRunning, policyFile: string, runDir: string): EdgeChild {
  const child = spawn(ns(NS.edge, process.execPath, '--import', 'tsx', CHILD, policyFile, runDir))
  const lines: string[] = []
  const collect = lineSplitter(line => lines.push(line))
  child.onStdout(collect)
  child.onStderr(collect)
  const up = (): boolean | undefined => {
    const last = lines.filter(l => l.startsWith('state ')).at(-1)
    return last === undefined ? undefined : (JSON.parse(last.slice(6)) as Record<string, { up: boolean } | null>)['gre-bb']?.up
  }
  return {
    process: child,
    lines,
    up,
    async waitFor(predicate, timeoutMs) {
      const until = Date.now() + timeoutMs
      while (Date.now() < until) {
        if (predicate(lines)) return true
        await new Promise(r => setTimeout(r, 200))
      }
      return predicate(lines)
    },
  }
}

/** `ping` run to completion in the edge namespace; how many replies came back. */
async function ping(run: CommandRunner, count: number): Promise<number> {
  const result = await run({ argv: ns(NS.edge, 'ping', '-c', String(count), '-i', '0.3', '-W', '2', HUB.inner) })
  return Number(/(\d+) received/.exec(result.stdout)?.[1] ?? 0)
}

const wire = (run: CommandRunner): Promise<WireCounters> => readWireCounters(run, NS.provider)

export async function greOverIpsecStory(run: CommandRunner, spawn: SpawnLongRunning, workDir: string, psk: string, report: Report): Promise<void> {
  const pskFile = join(workDir, 'gix.psk')
  await writeFile(pskFile, `${psk}\n`, { mode: 0o600 })
  const policyFile = join(workDir, 'gix.yaml')
  await writeFile(policyFile, greIpsecPolicy(pskFile))
  const hubLog: string[] = []
  let hub: Awaited<ReturnType<typeof startHub>> | undefined
  let edge: EdgeChild | undefined
  try {
    await buildNamespaces(run)
    hub = await startHub(workDir, psk, hubLog)
    await hubGre(run)
    edge = startEdge(spawn, policyFile, join(workDir, 'gix-charon'))
    const started = await edge.waitFor(l => l.some(x => x === 'ready' || x.startsWith('error ')), 120_000)
    const setUp = edge.lines.find(x => x === 'ready' || x.startsWith('error '))
    if (!started || setUp !== 'ready') throw new Error(`edge did not start: ${setUp ?? 'no answer in 120 s'}; ${edge.lines.slice(-8).join(' | ')}`)
    await edge.waitFor(() => edge!.up() === true, 30_000)
    const setup = await wire(run)
    const before = await linkCounters(run, NS.edge, 'sw-gre-bb')
    const replies = await ping(run, 5)
    const after = await linkCounters(run, NS.edge, 'sw-gre-bb')
    const sent = after.txPackets - before.txPackets
    report('gre-ipsec-traffic', edge.up() === true && replies >= 4 && sent >= 5, `tunnel ${edge.up() ? 'up' : 'not up'}; ${replies}/5 pings ${EDGE.inner} → ${HUB.inner} answered; the edge's GRE link sw-gre-bb sent ${sent} packets`)
    const onWire = wireDelta(setup, await wire(run))
    const setupText = `before the tunnel was up: ${setup.greFromEdge} cleartext GRE from the edge, ${setup.greClear - setup.greFromEdge} from the hub`
    report(
      'gre-ipsec-esp-only',
      onWire.greClear === 0 && onWire.clear === 0 && onWire.espInUdp >= 10,
      `once the tunnel was up the provider forwarded ${onWire.espInUdp} ESP-in-UDP packets (${onWire.espRaw} plain ESP), ` +
        `${onWire.greClear} cleartext GRE, ${onWire.clear} cleartext packets of the inner /30; ${setupText}`,
    )

    await hub.supervisor.stop()
    hub.client.close()
    const down = await edge.waitFor(() => edge!.up() === false, 30_000)
    const lost = await ping(run, 5)
    const afterDown = wireDelta(setup, await wire(run))
    report(
      'gre-ipsec-no-cleartext-down',
      down && lost === 0 && afterDown.greClear === 0 && afterDown.clear === 0,
      `hub charon stopped: tunnel ${down ? 'reported down' : 'still reported up'}; ${lost}/5 pings answered; cleartext on the wire since the tunnel came up: ${afterDown.greClear} GRE, ${afterDown.clear} of the inner /30`,
    )
  } catch (err) {
    report('gre-ipsec-scenario', false, `${(err as Error).message}; edge: ${edge?.lines.slice(-10).join(' | ') ?? '-'}; hub: ${hubLog.slice(-10).join(' | ')}`)
  } finally {
    if (edge) {
      edge.process.kill('SIGTERM')
      await Promise.race([edge.process.exited.catch(() => null), new Promise(r => setTimeout(r, 20_000))])
      edge.process.kill('SIGKILL')
    }
    await hub?.supervisor.stop().catch(() => undefined)
    for (const n of Object.values(NS)) await run({ argv: ['ip', 'netns', 'del', n] })
  }
}
