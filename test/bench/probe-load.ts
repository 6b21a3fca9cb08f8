// `npm run bench probe-load`: the CPU and memory cost of probing 3 uplinks × 20 probes/s for 60 s.
// The real engine (native I/O thread, real sockets) runs in the edge namespace of the three-uplink topology
// (test/probes/helpers/three-uplinks.ts) against one `sdwan-edge reflect` per provider; the reflectors
// are separate processes and not counted. CPU is the engine process's user+system time over the 60 s
// after a 3 s warm-up, as a percentage of one core; RSS is the process's peak resident set. Reference
// in the same run: an idle Node process started the same way (node --import tsx), whose RSS is the
// floor any TypeScript-run Node service pays.
// Options: --seconds N (default 60).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { NetnsLab, netnsUnavailable } from '../probes/helpers/netns.js'
import { startReflectorProcess } from '../probes/helpers/reflector-process.js'
import { buildThreeUplinks, REFLECTOR_ADDRESS, UPLINKS, uplinkAddress } from '../probes/helpers/three-uplinks.js'

const secondsArg = process.argv.indexOf('--seconds')
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 60
if (!(seconds > 0)) {
  console.error('probe-load: --seconds must be a positive number')
  process.exit(2)
}
const missing = netnsUnavailable()
if (missing) {
  console.error(`probe-load: ${missing}`)
  process.exit(1)
}

const lab = new NetnsLab('prld')
const reflectors: Awaited<ReturnType<typeof startReflectorProcess>>[] = []
try {
  const { edge, providers } = buildThreeUplinks(lab)
  for (const p of providers) reflectors.push(await startReflectorProcess(['--address', REFLECTOR_ADDRESS], p))
  const spec = {
    durationMs: seconds * 1000,
    warmupMs: 3000,
    windowSize: 100,
    targets: UPLINKS.map(i => ({ pathId: `wan${i}`, localAddress: uplinkAddress(i), remoteAddress: REFLECTOR_ADDRESS, port: 862, intervalMs: 50, timeoutMs: 1000 })),
  }
  console.log(`probing 3 uplinks × 20 probes/s for ${seconds} s (after 3 s warm-up)…`)
  const run = spawnSync('ip', ['netns', 'exec', edge, process.execPath, '--import', 'tsx', join(import.meta.dirname, '../probes/fixtures/engine-run.ts'), JSON.stringify(spec)], {
    encoding: 'utf8',
  })
  if (run.status !== 0) throw new Error(`engine run failed: ${run.stderr}`)
  const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
    cpuMs: number; wallMs: number; rssMb: number; maxRssMb: number; metrics: { pathId: string; totalSent: number; totalReceived: number; rtt: { p50Ms: number } | null }[]
  }
  const idle = spawnSync(process.execPath, ['--import', 'tsx', '-e', 'setTimeout(() => process.stdout.write(String(process.resourceUsage().maxRSS / 1024)), 500)'], { encoding: 'utf8' })
  const idleRssMb = Number(idle.stdout)
  const cpuPct = (result.cpuMs / result.wallMs) * 100
  for (const m of result.metrics) console.log(`  ${m.pathId}: ${m.totalReceived}/${m.totalSent} replies (whole run), rtt p50 ${m.rtt?.p50Ms.toFixed(3)} ms`)
  console.log(`CPU ${cpuPct.toFixed(2)} % of one core (${result.cpuMs.toFixed(0)} ms over ${(result.wallMs / 1000).toFixed(1)} s)`)
  console.log(`RSS peak ${result.maxRssMb.toFixed(1)} MB, at end ${result.rssMb.toFixed(1)} MB; reference: idle node --import tsx peaks at ${idleRssMb.toFixed(1)} MB (ratio ${(result.maxRssMb / idleRssMb).toFixed(2)})`)
  console.log(JSON.stringify({ bench: 'probe-load', cpu_pct: Number(cpuPct.toFixed(3)), rss_mb: Number(result.maxRssMb.toFixed(1)) }))
} finally {
  for (const r of reflectors) await r.stop()
  lab.destroy()
}
