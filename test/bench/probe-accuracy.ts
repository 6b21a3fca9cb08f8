// `npm run bench probe-accuracy`: how far our STAMP RTT is from the truth, next to iputils ping over the
// same veth in the same run. Two namespaces joined by a veth; `sdwan-edge reflect` in one, and from the
// other, alternating rounds of `sdwan-edge probe --json` and `ping`, 10 ms apart.
//
// Ground truth: the delay injected on the veth (netem, `--injected-ms N`; only where sch_netem exists,
// e.g. the VM lab). On the host kernel there is no netem, so injected_ms is 0 and the "error" of either
// tool is simply the RTT it reports over a bare veth — the kernel's own path (≈ 10–30 µs) plus each
// tool's timestamping overhead. Error of a sample = |measured RTT − 2 × injected one-way delay|.
//
// Where our error comes from: T1 is read by the probe I/O thread just before the send call, and T4 is
// the kernel's receive timestamp (SO_TIMESTAMPNS), as ping's is (SO_TIMESTAMP); what remains is the
// reflector's side (its T3 − T2 hold is subtracted, its receive wake-up is not). The first 20 samples of
// every round are dropped on both sides (ARP, JIT warm-up).
// A third row, for context: a bare Node UDP echo (no STAMP) across the same veth, timed in user space
// with dgram — what a prober on Node's own sockets would see on this host at this load.
// Options: --count N per round (default 500), --rounds N (default 2), --injected-ms N (default 0).
import { spawn, spawnSync } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { NetnsLab, netnsUnavailable } from '../probes/helpers/netns.js'
import { startReflectorProcess } from '../probes/helpers/reflector-process.js'
import { percentile } from '../../probes/metrics/stats.js'

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!(v >= 0) || !Number.isFinite(v)) {
    console.error(`probe-accuracy: --${name} needs a non-negative number`)
    process.exit(2)
  }
  return v
}
const count = option('count', 500)
const rounds = option('rounds', 2)
const injectedMs = option('injected-ms', 0)
const WARMUP = 20
const missing = netnsUnavailable()
if (missing) {
  console.error(`probe-accuracy: ${missing}`)
  process.exit(1)
}

const repo = join(import.meta.dirname, '../..')
const ECHO_SERVER = `const s = require('node:dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address)); s.bind(9, '10.40.0.2')`
const echoClient = (n: number): string => `
  const s = require('node:dgram').createSocket('udp4'); const rtts = []; let t1
  s.on('message', () => rtts.push(Number(process.hrtime.bigint() - t1) / 1e6))
  s.bind(0, '10.40.0.1', async () => {
    for (let i = 0; i < ${n}; i++) { t1 = process.hrtime.bigint(); s.send(Buffer.alloc(44), 9, '10.40.0.2'); await new Promise(r => setTimeout(r, 10)) }
    process.stdout.write(JSON.stringify(rtts.slice(${WARMUP}))); s.close()
  })`
const lab = new NetnsLab('prac')
let reflector: Awaited<ReturnType<typeof startReflectorProcess>> | undefined
try {
  const a = lab.ns('a')
  const b = lab.ns('b')
  lab.veth(a, 'va', '10.40.0.1/24', b, 'vb', '10.40.0.2/24')
  if (injectedMs > 0) {
    // Half the delay each way, so the round trip gains injectedMs.
    for (const [ns, dev] of [[a, 'va'], [b, 'vb']] as const) lab.exec(ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', `${injectedMs / 2}ms`)
  }
  reflector = await startReflectorProcess(['--address', '10.40.0.2'], b)
  const echoServer = spawn('ip', ['netns', 'exec', b, process.execPath, '-e', ECHO_SERVER], { stdio: 'ignore' })
  const ours: number[] = []
  const ping: number[] = []
  const bare: number[] = []
  for (let round = 1; round <= rounds; round++) {
    const p = spawnSync('ip', ['netns', 'exec', a, process.execPath, '--import', 'tsx', join(repo, 'edge/cli/bin.ts'), 'probe', '10.40.0.2', '--count', String(count + WARMUP), '--interval', '10', '--json'], {
      cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20,
    })
    if (p.status !== 0) throw new Error(`probe failed: ${p.stderr}`)
    const replies = (JSON.parse(p.stdout) as { replies: { seq: number; rttMs: number }[] }).replies
    ours.push(...replies.filter(r => r.seq >= WARMUP).map(r => r.rttMs))
    const q = spawnSync('ip', ['netns', 'exec', a, 'ping', '-n', '-c', String(count + WARMUP), '-i', '0.01', '10.40.0.2'], { encoding: 'utf8', maxBuffer: 64 << 20 })
    if (q.status !== 0) throw new Error(`ping failed: ${q.stderr}`)
    const times = [...q.stdout.matchAll(/icmp_seq=(\d+) .*time=([\d.]+) ms/g)].filter(m => Number(m[1]) > WARMUP).map(m => Number(m[2]))
    ping.push(...times)
    const e = spawnSync('ip', ['netns', 'exec', a, process.execPath, '-e', echoClient(count + WARMUP)], { encoding: 'utf8', maxBuffer: 64 << 20 })
    if (e.status !== 0) throw new Error(`bare echo failed: ${e.stderr}`)
    const echoes = JSON.parse(e.stdout) as number[]
    bare.push(...echoes)
    console.log(`round ${round}: ${replies.length - WARMUP} STAMP, ${times.length} ping, ${echoes.length} bare-Node-echo samples`)
  }
  echoServer.kill()
  const errors = (xs: number[]): number[] => xs.map(x => Math.abs(x - injectedMs)).sort((x, y) => x - y)
  const oursErr = errors(ours)
  const pingErr = errors(ping)
  const fmt = (x: number): string => x.toFixed(4)
  const row = (name: string, e: number[]): string =>
    `${name.padEnd(6)} n=${e.length}  median ${fmt(percentile(e, 50))} ms  p95 ${fmt(percentile(e, 95))} ms  p99 ${fmt(percentile(e, 99))} ms  max ${fmt(e[e.length - 1]!)} ms`
  console.log(`absolute RTT error vs injected ${injectedMs} ms (veth${injectedMs > 0 ? ' + netem' : ', host kernel without netem'}):`)
  console.log(row('STAMP', oursErr))
  console.log(row('ping', pingErr))
  console.log(row('node', errors(bare)) + '  (bare Node UDP echo: runtime floor, for context)')
  console.log(`ratio ours/ping: median ${(percentile(oursErr, 50) / percentile(pingErr, 50)).toFixed(2)}, p99 ${(percentile(oursErr, 99) / percentile(pingErr, 99)).toFixed(2)}`)
  console.log(`goal: median ≤ 0.2 ms, p99 ≤ 1 ms, not worse than ping; host load average now: ${loadavg().map(x => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`)
  console.log(
    JSON.stringify({
      bench: 'probe-accuracy',
      ours_median_ms: Number(fmt(percentile(oursErr, 50))),
      ours_p99_ms: Number(fmt(percentile(oursErr, 99))),
      ping_median_ms: Number(fmt(percentile(pingErr, 50))),
      ping_p99_ms: Number(fmt(percentile(pingErr, 99))),
      injected_ms: injectedMs,
    }),
  )
} finally {
  await reflector?.stop()
  lab.destroy()
}
