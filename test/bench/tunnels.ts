// npm run bench tunnels [-- --trials N]: time from decision to tunnel usable on this kernel (issue 5).
//   ours_ms       TunnelPort.set([conn]) (IpsecTunnelManager in the edge namespace) → first reply of a ping
//                 already running from the LAN address to the hub's inner address through the tunnel:
//                 spawning charon, VICI ready, the TUN renamed and addressed, conn loaded, IKE + CHILD_SA.
//   three_ms      the same for three tunnels set at once, until all three have answered.
//   reference_ms  raw VICI initiate on the same setup (same namespaces, same hub responder, a charon
//                 already running with the conn loaded, its own routes) → first reply: what strongSwan
//                 alone needs, like `swanctl --initiate`.
// Medians over N trials (default 5); each trial tears its tunnels down again. ratio = ours / reference.
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { CharonSupervisor } from '../../edge/dataplane/ipsec/charon-supervisor.js'
import { nodeSpawnCharon } from '../../edge/dataplane/ipsec/node-spawn.js'
import { renderTunnel } from '../../edge/dataplane/ipsec/tunnel-conn.js'
import { ViciClient } from '../../edge/dataplane/vici/client.js'
import { realTimers } from '../../edge/dataplane/vici/retry.js'
import { unixSocketConnect } from '../../edge/dataplane/vici/unix-socket.js'
import { CHARON } from '../edge/dataplane/ipsec/helpers/charon-pair.js'
import { startManagerChild, type ManagerDriver } from '../edge/dataplane/ipsec/helpers/manager-driver.js'
import { missingCapability } from '../edge/dataplane/ipsec/helpers/netns-pair.js'
import { DC, ESP, IKE, LAN, startTunnelBed, type TunnelBed } from '../edge/dataplane/ipsec/helpers/tunnel-bed.js'

const trialsArg = process.argv.indexOf('--trials')
const TRIALS = trialsArg > 0 ? Number(process.argv[trialsArg + 1]) : 5
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]!
}
const r1 = (x: number): number => Math.round(x * 10) / 10

/** A ping every 2 ms from the LAN address; resolves with performance.now() of its first reply. */
function pinger(netns: string, target: string): { firstReply: Promise<number>; sending: Promise<void>; stop(): void } {
  // stdbuf -oL: ping's stdout is a pipe here, which stdio would block-buffer.
  const child = spawn('ip', ['netns', 'exec', netns, 'stdbuf', '-oL', 'ping', '-n', '-i', '0.002', '-w', '60', '-I', LAN.replace('0/24', '1'), target], { stdio: ['ignore', 'pipe', 'ignore'] })
  let reply!: (at: number) => void
  let sendingNow!: () => void
  const firstReply = new Promise<number>(resolve => (reply = resolve))
  const sending = new Promise<void>(resolve => (sendingNow = resolve))
  createInterface({ input: child.stdout }).on('line', line => {
    if (line.startsWith('PING ')) sendingNow()
    if (/bytes from/.test(line)) reply(performance.now())
  })
  return { firstReply, sending, stop: () => void child.kill('SIGINT') }
}

async function oursTrial(bed: TunnelBed, edge: ManagerDriver, tunnels: readonly string[]): Promise<number> {
  const pingers = tunnels.map(t => pinger(bed.net.a.netns, bed.inner(t).hub))
  await Promise.all(pingers.map(p => p.sending))
  const at = edge.send(`set ${tunnels.join(',')}`)
  const replies = await Promise.all(pingers.map(p => p.firstReply))
  for (const p of pingers) p.stop()
  await edge.command('set -')
  return Math.max(...replies) - at
}

async function referenceTrials(bed: TunnelBed): Promise<number[]> {
  const t = 't1'
  const supervisor = new CharonSupervisor(
    {
      name: 'reference',
      netns: bed.net.a.netns,
      confPath: join(bed.dir, 'reference.conf'),
      viciSocketPath: join(bed.dir, 'reference.vici'),
      ikePort: 14_900,
      natTPort: 14_901,
      routingTable: 220,
      routingTablePrio: 220,
      installRoutes: true,
    },
    { spawn: nodeSpawnCharon, writeFile: (p, text) => writeFile(p, text), connectVici: unixSocketConnect, timers: realTimers, now: () => performance.now(), env: process.env },
  )
  await supervisor.start()
  const client = await ViciClient.connect(unixSocketConnect(supervisor.instance.viciSocketPath))
  try {
    const rendered = renderTunnel({
      name: t,
      local: { address: bed.net.a.underlay, ikePort: 14_900, id: 'edge.test' },
      remote: { address: bed.net.b.underlay, ikePort: bed.hub.edgeFacingPort(t), id: 'hub.test' },
      auth: { kind: 'psk', secret: (await readFile(join(bed.dir, 'psk'), 'utf8')).trim() },
      localTs: [LAN],
      remoteTs: [DC, `${bed.inner(t).hub}/32`],
      ikeProposals: IKE,
      espProposals: ESP,
    })
    for (const s of rendered.shared) await client.loadShared(s)
    await client.loadConn(rendered.connName, rendered.loadConn)
    const times: number[] = []
    for (let i = 0; i < TRIALS; i++) {
      const p = pinger(bed.net.a.netns, bed.inner(t).hub)
      await p.sending
      const at = performance.now()
      await client.initiate({ child: t, ike: t })
      times.push((await p.firstReply) - at)
      p.stop()
      await client.terminate({ ike: t })
    }
    return times
  } finally {
    client.close()
    await supervisor.stop()
  }
}

async function main(): Promise<void> {
  const missing = await missingCapability(CHARON)
  if (missing) {
    console.error(`tunnels: ${missing}`)
    process.exit(1)
  }
  const bed = await startTunnelBed('bnt', 3)
  const edge = startManagerChild(bed.net.a.netns, bed.policyFile, bed.managerOptions(14_600))
  try {
    await edge.ready
    const one: number[] = []
    const three: number[] = []
    for (let i = 0; i < TRIALS; i++) {
      one.push(await oursTrial(bed, edge, ['t1']))
      console.log(`ours, 1 tunnel, trial ${i + 1}/${TRIALS}: ${r1(one.at(-1)!)} ms`)
    }
    for (let i = 0; i < TRIALS; i++) {
      three.push(await oursTrial(bed, edge, bed.tunnels))
      console.log(`ours, 3 tunnels at once, trial ${i + 1}/${TRIALS}: ${r1(three.at(-1)!)} ms`)
    }
    const reference = await referenceTrials(bed)
    reference.forEach((ms, i) => console.log(`reference (raw VICI initiate), trial ${i + 1}/${TRIALS}: ${r1(ms)} ms`))
    const r = { bench: 'tunnels', ours_ms: r1(median(one)), reference_ms: r1(median(reference)), ratio: 0, three_ms: r1(median(three)), trials: TRIALS }
    r.ratio = Math.round((r.ours_ms / r.reference_ms) * 100) / 100
    console.log(`decision → first packet: ours ${r.ours_ms} ms (1 tunnel, charon spawned on demand), ${r.three_ms} ms (3 at once); raw initiate on a running charon ${r.reference_ms} ms; ratio ${r.ratio}`)
    console.log(JSON.stringify(r))
  } finally {
    edge.kill()
    await edge.exited
    await bed.destroy()
  }
}

await main()
