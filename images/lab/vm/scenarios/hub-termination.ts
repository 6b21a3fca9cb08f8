// Runs inside the lab VM (esp4, xfrm_interface): the real hub mode (`sdwan-edge run` on a hub policy) in
// its own namespace terminates two tunnels from one edge — a plain kernel-ESP charon initiating from the
// edge's broadband and LTE addresses, with an xfrm interface per tunnel — behind a provider that counts
// what crosses it, with a DC service host behind the hub. Checks:
//   hub-started            the hub came up: interfaces, rules, nft table, charon, reflector;
//   hub-tunnels-up         both tunnels established, `sdwan-edge status` says 2 of 2 up;
//   hub-sticky-replies     pings from the edge LAN to the DC service through each tunnel are answered, and
//                          each tunnel's replies leave by that tunnel's xfrm interface (counters), although
//                          the hub's route to the edge LAN names the first tunnel;
//   hub-reflector          STAMP to the hub's inner address of each tunnel is answered through that tunnel;
//   hub-esp-only           on the wire only ESP in UDP, never the LAN's or DC's addresses in the clear;
//   hub-dc-failover        broadband's tunnel down: the DC's own new pings reach the edge through LTE's;
//   hub-down-no-cleartext  both tunnels down: the DC's pings find a blackhole, nothing leaves in the clear;
//   hub-reload             SIGHUP with a third tunnel adds its interface; SIGHUP with a broken policy is
//                          refused and the running policy stays;
//   hub-teardown           SIGTERM: the hub exits 0 and its charon is gone.
// Prints LAB-CHECK lines (scenario-checks.ts); exits 1 if a check failed.
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { askControl } from '../../../../edge/daemon/control-socket.js'
import { loadTunnel, renderTunnel } from '../../../../edge/dataplane/ipsec/tunnel-conn.js'
import type { HubStatus } from '../../../../edge/hub/status.js'
import { runChecked, spawnCommandRunner } from '../../command-runner.js'
import { LAB_ESP_PROPOSALS, LAB_IKE_PROPOSALS } from '../../lab-policy.js'
import { linkCounters } from '../../link-counters.js'
import { lineSplitter, spawnLongRunning, type LongRunningProcess } from '../../long-running-process.js'
import { HUB_LAB, hubLabPolicy } from '../hub-suite.js'
import { checkReporter } from '../scenario-checks.js'
import { startTestCharon, type TestCharon } from './test-charon.js'
import { warmModuleCache } from './module-cache.js'
import { installWireCounters, readWireCounters, type WireCounters } from './wire-counters.js'
import { pollStatus } from './poll-status.js'

const NS = { edge: 'hx-e', provider: 'hx-p', hub: 'hx-h', dc: 'hx-d' } as const
const BIN = fileURLToPath(new URL('../../../../edge/cli/bin.ts', import.meta.url))
const EDGE_IKE_PORT = 14_500
const PSK = 'hub-lab-psk-not-secret'
const PINGS = 5

/** The edge LAN's, the DC's and the tunnels' inner addresses: on the provider's wire only inside ESP. */
const PROTECTED = ['10.42.0.0/24', '10.20.0.0/16', '10.255.42.0/29']

const run = spawnCommandRunner()
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const checks = checkReporter()
const report = checks.report
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))
const ns = (name: string, ...argv: string[]): string[] => ['ip', 'netns', 'exec', name, ...argv]
const sh = async (...argv: string[]): Promise<string> => (await runChecked(run, { argv })).stdout

async function buildNamespaces(): Promise<void> {
  const e = HUB_LAB.edge
  const steps: string[][] = [
    ...Object.values(NS).map(n => ['ip', 'netns', 'add', n]),
    ...Object.values(NS).map(n => ['ip', '-n', n, 'link', 'set', 'lo', 'up']),
    ['ip', '-n', NS.edge, 'link', 'add', 'e-bb', 'type', 'veth', 'peer', 'name', 'p-bb', 'netns', NS.provider],
    ['ip', '-n', NS.edge, 'link', 'add', 'e-lte', 'type', 'veth', 'peer', 'name', 'p-lte', 'netns', NS.provider],
    ['ip', '-n', NS.hub, 'link', 'add', 'h0', 'type', 'veth', 'peer', 'name', 'p-h', 'netns', NS.provider],
    ['ip', '-n', NS.hub, 'link', 'add', 'h-dc', 'type', 'veth', 'peer', 'name', 'd0', 'netns', NS.dc],
    ['ip', '-n', NS.edge, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1'],
    ['ip', '-n', NS.edge, 'addr', 'add', `${e.bb}/24`, 'dev', 'e-bb'],
    ['ip', '-n', NS.edge, 'addr', 'add', `${e.lte}/24`, 'dev', 'e-lte'],
    ['ip', '-n', NS.edge, 'addr', 'add', `${e.lan}/24`, 'dev', 'lan0'],
    ['ip', '-n', NS.provider, 'addr', 'add', '192.0.2.254/24', 'dev', 'p-bb'],
    ['ip', '-n', NS.provider, 'addr', 'add', '100.64.0.254/24', 'dev', 'p-lte'],
    ['ip', '-n', NS.provider, 'addr', 'add', '203.0.113.254/24', 'dev', 'p-h'],
    ['ip', '-n', NS.hub, 'addr', 'add', `${HUB_LAB.underlay}/24`, 'dev', 'h0'],
    ['ip', '-n', NS.hub, 'addr', 'add', '10.20.0.1/24', 'dev', 'h-dc'],
    ['ip', '-n', NS.dc, 'addr', 'add', `${HUB_LAB.dcService}/24`, 'dev', 'd0'],
    ...[[NS.edge, 'e-bb'], [NS.edge, 'e-lte'], [NS.edge, 'lan0'], [NS.edge, 'lan1'], [NS.provider, 'p-bb'], [NS.provider, 'p-lte'], [NS.provider, 'p-h'], [NS.hub, 'h0'], [NS.hub, 'h-dc'], [NS.dc, 'd0']].map(([n, dev]) => ['ip', '-n', n!, 'link', 'set', dev!, 'up']),
    ns(NS.provider, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'),
    ['ip', '-n', NS.hub, 'route', 'add', 'default', 'via', '203.0.113.254'],
    ['ip', '-n', NS.dc, 'route', 'add', 'default', 'via', '10.20.0.1'],
    // Each uplink's IKE and ESP leave by that uplink (source rules), as the edge's dataplane does.
    ['ip', '-n', NS.edge, 'route', 'add', 'default', 'via', '192.0.2.254', 'dev', 'e-bb', 'table', '201'],
    ['ip', '-n', NS.edge, 'route', 'add', 'default', 'via', '100.64.0.254', 'dev', 'e-lte', 'table', '202'],
    ['ip', '-n', NS.edge, 'rule', 'add', 'from', e.bb, 'lookup', '201', 'pref', '100'],
    ['ip', '-n', NS.edge, 'rule', 'add', 'from', e.lte, 'lookup', '202', 'pref', '101'],
    ['ip', '-n', NS.edge, 'route', 'add', 'default', 'via', '192.0.2.254'],
    // The edge's tunnels: one xfrm interface each; fwmark 1 steers into broadband's, 2 into LTE's.
    ['ip', '-n', NS.edge, 'link', 'add', 'xe-bb', 'type', 'xfrm', 'if_id', '101'],
    ['ip', '-n', NS.edge, 'link', 'add', 'xe-lte', 'type', 'xfrm', 'if_id', '102'],
    ['ip', '-n', NS.edge, 'addr', 'add', `${HUB_LAB.tunnels[0].spokeInner}/30`, 'dev', 'xe-bb'],
    ['ip', '-n', NS.edge, 'addr', 'add', `${HUB_LAB.tunnels[1].spokeInner}/30`, 'dev', 'xe-lte'],
    ['ip', '-n', NS.edge, 'link', 'set', 'xe-bb', 'up'],
    ['ip', '-n', NS.edge, 'link', 'set', 'xe-lte', 'up'],
    ['ip', '-n', NS.edge, 'route', 'add', '10.20.0.0/16', 'dev', 'xe-bb', 'table', '101'],
    ['ip', '-n', NS.edge, 'route', 'add', '10.20.0.0/16', 'dev', 'xe-lte', 'table', '102'],
    // Unmarked traffic to the DC (the DC's own pings answered) takes LTE's tunnel, never the default route.
    ['ip', '-n', NS.edge, 'route', 'add', '10.20.0.0/16', 'dev', 'xe-lte'],
    ['ip', '-n', NS.edge, 'rule', 'add', 'fwmark', '1', 'lookup', '101', 'pref', '200'],
    ['ip', '-n', NS.edge, 'rule', 'add', 'fwmark', '2', 'lookup', '102', 'pref', '201'],
  ]
  for (const argv of steps) await runChecked(run, { argv })
  // What the provider forwards: ESP in UDP, and any packet of the protected prefixes in the clear (a leak).
  // The edge side named is broadband's; no GRE crosses this lab, so which side it is does not matter.
  await installWireCounters(run, NS.provider, PROTECTED, 'p-bb')
}

const readWire = (): Promise<WireCounters> => readWireCounters(run, NS.provider)

async function linkPackets(netns: string, device: string): Promise<{ rx: number; tx: number }> {
  const c = await linkCounters(run, netns, device)
  return { rx: c.rxPackets, tx: c.txPackets }
}

async function startEdgeCharon(workDir: string, log: string[]): Promise<TestCharon> {
  const edge = await startTestCharon('hx-edge', NS.edge, workDir, { ikePort: EDGE_IKE_PORT, natTPort: EDGE_IKE_PORT + 1 }, log)
  for (const [i, t] of HUB_LAB.tunnels.entries()) {
    const rendered = renderTunnel({
      name: t.name,
      local: { address: i === 0 ? HUB_LAB.edge.bb : HUB_LAB.edge.lte, ikePort: EDGE_IKE_PORT + 1, id: t.ikeId },
      remote: { address: HUB_LAB.underlay, ikePort: 4500, id: HUB_LAB.ikeId },
      auth: { kind: 'psk', secret: PSK },
      localTs: [`${HUB_LAB.edge.lanPrefix}`, `${t.spokeInner}/32`],
      remoteTs: [HUB_LAB.dcPrefix, `${t.hubInner}/32`],
      ikeProposals: LAB_IKE_PROPOSALS,
      espProposals: LAB_ESP_PROPOSALS,
      dpdDelaySec: 2,
      ifId: 101 + i,
    })
    await loadTunnel(edge.client, rendered)
  }
  return edge
}

interface Hub {
  readonly process: LongRunningProcess
  readonly lines: string[]
  readonly socket: string
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<boolean>
  status(): Promise<HubStatus>
}

function startHub(workDir: string, policyFile: string): Hub {
  const socket = join(workDir, 'hub.sock')
  const child = spawnLongRunning(ns(NS.hub, process.execPath, '--import', 'tsx', BIN, 'run', '--policy', policyFile, '--socket', socket, '--state-dir', join(workDir, 'hub-state')))
  const lines: string[] = []
  const collect = lineSplitter(line => lines.push(line))
  child.onStdout(collect)
  child.onStderr(collect)
  return {
    process: child,
    lines,
    socket,
    async waitForLog(pattern, timeoutMs) {
      const until = Date.now() + timeoutMs
      while (Date.now() < until) {
        if (lines.some(l => pattern.test(l))) return true
        await sleep(200)
      }
      return lines.some(l => pattern.test(l))
    },
    async status() {
      const reply = await askControl(socket, 'status', 20_000)
      if (!reply.ok) throw new Error(`hub status refused: ${reply.error}`)
      return reply.result as HubStatus
    },
  }
}


const upCount = (s: HubStatus): number => s.tunnels.filter(t => t.state === 'up').length
const tunnelsLine = (s: HubStatus): string => s.tunnels.map(t => `${t.tunnel} ${t.state}`).join(', ')

/** `ping` in a namespace; how many replies came back. */
async function ping(netns: string, args: string[]): Promise<number> {
  const result = await run({ argv: ns(netns, 'ping', '-c', String(PINGS), '-i', '0.3', '-W', '2', ...args) })
  return Number(/(\d+) received/.exec(result.stdout)?.[1] ?? 0)
}

const hubCounters = async (): Promise<Record<string, { rx: number; tx: number }>> => {
  const out: Record<string, { rx: number; tx: number }> = {}
  for (const d of ['swh1', 'swh2']) out[d] = await linkPackets(NS.hub, d)
  return out
}
const delta = (a: Record<string, { rx: number; tx: number }>, b: Record<string, { rx: number; tx: number }>, d: string) => ({ rx: b[d]!.rx - a[d]!.rx, tx: b[d]!.tx - a[d]!.tx })

async function probe(target: string): Promise<{ received: number; sent: number; failure: string }> {
  const result = await run({ argv: ns(NS.edge, process.execPath, '--import', 'tsx', BIN, 'probe', target, '--port', String(HUB_LAB.reflectorPort), '--count', '5', '--interval', '200', '--timeout', '2000', '--json') })
  const parsed = JSON.parse(result.stdout || '{}') as { sent?: number; received?: number }
  const failure = result.code === 0 ? '' : ` [probe exit ${result.code}: ${result.stderr.trim().split('\n').slice(-3).join(' / ')}]`
  return { sent: parsed.sent ?? 0, received: parsed.received ?? 0, failure }
}

const workDir = await mkdtemp(join(tmpdir(), 'sdwan-vm-hub-'))
const pskFile = join(workDir, 'psk')
const policyFile = join(workDir, 'hub.yaml')
const edgeLog: string[] = []
let edge: Awaited<ReturnType<typeof startEdgeCharon>> | undefined
let hub: Hub | undefined
try {
  // The hub and then the probe and status commands each start a node process under tsx.
  await warmModuleCache(run)
  await writeFile(pskFile, `${PSK}\n`, { mode: 0o600 })
  await writeFile(policyFile, hubLabPolicy(pskFile, 1))
  await buildNamespaces()

  // A const of its own, for the status closures below (`hub` is reassigned when the hub stops).
  const running = startHub(workDir, policyFile)
  hub = running
  const started = await hub.waitForLog(/"msg":"hub started"|cannot start the hub|start-up failed/, 180_000)
  const links = started ? await sh('ip', '-n', NS.hub, '-d', '-o', 'link', 'show', 'type', 'xfrm') : ''
  const rules = started ? await sh('ip', '-n', NS.hub, 'rule') : ''
  const nft = started ? await run({ argv: ns(NS.hub, 'nft', 'list', 'table', 'inet', 'sdwan_hub') }) : undefined
  const hubUp = started && hub.lines.some(l => l.includes('"msg":"hub started"'))
  report(
    'hub-started',
    hubUp && /swh1.*if_id 0x5e000001/.test(links) && /swh2.*if_id 0x5e000002/.test(links) && /11000:\s+from all fwmark 0x1\/0xfff lookup 2001/.test(rules) && nft?.code === 0,
    hubUp ? `xfrm interfaces: ${links.split('\n').filter(Boolean).map(l => l.split(':')[1]?.trim()).join(', ')}; sticky rules ${rules.match(/^11000:/gm)?.length ?? 0}; nft table ${nft?.code === 0 ? 'loaded' : 'missing'}` : `the hub did not start: ${hub.lines.slice(-6).join(' | ')}`,
  )
  if (!hubUp) throw new Error('the hub did not start')

  edge = await startEdgeCharon(workDir, edgeLog)
  for (const t of HUB_LAB.tunnels) await edge.client.initiate({ child: t.name, ike: t.name, timeoutMs: 60_000 })
  const both = await pollStatus(() => running.status(), s => upCount(s) === 2, 60_000)
  const text = await run({ argv: [process.execPath, '--import', 'tsx', BIN, 'status', '--socket', hub.socket] })
  report('hub-tunnels-up', both.met && /2 of 2 spoke tunnels up/.test(text.stdout), `${tunnelsLine(both.last)}; status: ${text.stdout.split('\n')[0]}`)

  const c0 = await hubCounters()
  const viaBb = await ping(NS.edge, ['-m', '1', '-I', HUB_LAB.edge.lan, HUB_LAB.dcService])
  const c1 = await hubCounters()
  const viaLte = await ping(NS.edge, ['-m', '2', '-I', HUB_LAB.edge.lan, HUB_LAB.dcService])
  const c2 = await hubCounters()
  const bb1 = delta(c0, c1, 'swh1')
  const lte1 = delta(c0, c1, 'swh2')
  const bb2 = delta(c1, c2, 'swh1')
  const lte2 = delta(c1, c2, 'swh2')
  report(
    'hub-sticky-replies',
    viaBb >= PINGS - 1 && viaLte >= PINGS - 1 && bb1.rx >= PINGS && bb1.tx >= viaBb && lte1.tx === 0 && lte2.rx >= PINGS && lte2.tx >= viaLte && bb2.tx === 0,
    `through broadband's tunnel ${viaBb}/${PINGS} answered (swh1 rx ${bb1.rx} tx ${bb1.tx}, swh2 tx ${lte1.tx}); through LTE's ${viaLte}/${PINGS} (swh2 rx ${lte2.rx} tx ${lte2.tx}, swh1 tx ${bb2.tx}); the hub's route to ${HUB_LAB.edge.lanPrefix} names swh1`,
  )

  const r0 = await hubCounters()
  const stampBb = await probe(HUB_LAB.tunnels[0].hubInner)
  const r1 = await hubCounters()
  const stampLte = await probe(HUB_LAB.tunnels[1].hubInner)
  const r2 = await hubCounters()
  report(
    'hub-reflector',
    stampBb.received >= 4 && stampLte.received >= 4 && delta(r0, r1, 'swh1').tx >= stampBb.received && delta(r1, r2, 'swh2').tx >= stampLte.received && delta(r1, r2, 'swh1').tx === 0,
    `STAMP to ${HUB_LAB.tunnels[0].hubInner}: ${stampBb.received}/${stampBb.sent}${stampBb.failure} (swh1 tx ${delta(r0, r1, 'swh1').tx}); ` +
      `to ${HUB_LAB.tunnels[1].hubInner}: ${stampLte.received}/${stampLte.sent}${stampLte.failure} (swh2 tx ${delta(r1, r2, 'swh2').tx}, swh1 tx ${delta(r1, r2, 'swh1').tx})`,
  )

  const wire = await readWire()
  report('hub-esp-only', wire.clear === 0 && wire.espInUdp >= 4 * PINGS, `provider forwarded ${wire.espInUdp} ESP-in-UDP packets, ${wire.clear} cleartext packets of the LAN, DC or inner prefixes`)

  await edge.client.terminate({ ike: HUB_LAB.tunnels[0].name, timeoutMs: 20_000 })
  const oneDown = await pollStatus(() => running.status(), s => s.tunnels.find(t => t.tunnel === 'dc1-bb')?.state === 'down' && upCount(s) === 1, 60_000)
  await sleep(500)
  const f0 = await hubCounters()
  const fromDc = await ping(NS.dc, [HUB_LAB.edge.lan])
  const f1 = await hubCounters()
  report(
    'hub-dc-failover',
    oneDown.met && fromDc >= PINGS - 1 && delta(f0, f1, 'swh2').tx >= PINGS && delta(f0, f1, 'swh1').tx === 0,
    `${tunnelsLine(oneDown.last)}; the DC's pings to ${HUB_LAB.edge.lan}: ${fromDc}/${PINGS} answered, out of swh2 ${delta(f0, f1, 'swh2').tx}, swh1 ${delta(f0, f1, 'swh1').tx}`,
  )

  await edge.client.terminate({ ike: HUB_LAB.tunnels[1].name, timeoutMs: 20_000 })
  const allDown = await pollStatus(() => running.status(), s => upCount(s) === 0, 60_000)
  const w0 = await readWire()
  const lost = await ping(NS.dc, [HUB_LAB.edge.lan])
  const routes = await sh('ip', '-n', NS.hub, 'route', 'show', 'table', '2000')
  const w1 = await readWire()
  report(
    'hub-down-no-cleartext',
    allDown.met && lost === 0 && w1.clear === 0 && w1.clear === w0.clear && /blackhole 10\.42\.0\.0\/24/.test(routes),
    `${tunnelsLine(allDown.last)}; the DC's pings: ${lost}/${PINGS} answered; table 2000: ${routes.trim()}; cleartext on the wire since start: ${w1.clear}`,
  )

  await writeFile(policyFile, hubLabPolicy(pskFile, 2))
  hub.process.kill('SIGHUP')
  const grew = await hub.waitForLog(/"msg":"hub policy reloaded"/, 60_000)
  const third = await run({ argv: ['ip', '-n', NS.hub, 'link', 'show', 'swh3'] })
  await writeFile(policyFile, hubLabPolicy(pskFile, 2).replace('id: 3', 'id: 1'))
  hub.process.kill('SIGHUP')
  const refused = await hub.waitForLog(/reload refused: the policy file is invalid/, 60_000)
  const afterRefusal = await hub.status()
  report(
    'hub-reload',
    grew && third.code === 0 && refused && afterRefusal.serial === 2 && afterRefusal.tunnels.length === 3,
    `SIGHUP with a third tunnel: ${grew ? 'reloaded' : 'not reloaded'}, swh3 ${third.code === 0 ? 'created' : 'missing'}; SIGHUP with a duplicate id: ${refused ? 'refused' : 'not refused'}, running serial ${afterRefusal.serial} with ${afterRefusal.tunnels.length} tunnels`,
  )

  hub.process.kill('SIGTERM')
  const code = await Promise.race([hub.process.exited, sleep(60_000).then(() => 'timeout' as const)])
  const charons = await run({ argv: ['sh', '-c', `ip netns pids ${NS.hub}`] })
  report('hub-teardown', code === 0 && charons.stdout.trim() === '', `SIGTERM: exit ${code}; processes left in the hub's namespace: ${charons.stdout.trim().split('\n').filter(Boolean).length}`)
  hub = undefined
} catch (err) {
  report('hub-scenario', false, `${message(err)}; hub: ${hub?.lines.slice(-8).join(' | ') ?? '-'}; edge charon: ${edgeLog.slice(-6).join(' | ')}`)
} finally {
  if (hub) {
    hub.process.kill('SIGKILL')
    await Promise.race([hub.process.exited.catch(() => null), sleep(10_000)])
  }
  edge?.client.close()
  await edge?.supervisor.stop().catch(() => undefined)
  for (const n of Object.values(NS)) await run({ argv: ['ip', 'netns', 'del', n] })
}
process.exit(checks.failed ? 1 : 0)
