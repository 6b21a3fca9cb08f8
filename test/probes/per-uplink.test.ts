// Per-uplink probing on the real kernel: an edge namespace with three uplinks (veth pairs) to three
// provider namespaces, each of which hosts the SAME reflector address 198.18.0.1 with its own `sdwan-edge
// reflect` process. The main table's default route points at uplink 1 only. Source-address rules — as
// the dataplane will install — send each probe socket (bound to its uplink's address) out of its uplink.
// nftables counters in the edge namespace, per (path, interface) and direction, prove every probe left
// and every reply came back on its own uplink, including while uplink 1 (the main default) is down; each
// provider's reflector reports answering its own path's probes.
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { NetnsLab, netnsTestOptions } from './helpers/netns.js'
import { startReflectorProcess, type ReflectorProcess } from './helpers/reflector-process.js'
import { buildThreeUplinks, REFLECTOR_ADDRESS, UPLINKS, uplinkAddress } from './helpers/three-uplinks.js'
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'

const fixture = join(import.meta.dirname, 'fixtures/engine-run.ts')

interface RunResult {
  metrics: PathMetrics[]
  events: Record<string, Record<string, number>>
  errors: string[]
}

t.test('each path leaves and returns on its own uplink, whatever the main table says', netnsTestOptions(), async t => {
  const lab = new NetnsLab('prup')
  t.teardown(() => lab.destroy())
  const { edge, providers } = buildThreeUplinks(lab)
  // Strict reverse-path filtering: replies must also be accepted on the uplink they belong to.
  lab.exec(edge, 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=1')
  for (const i of UPLINKS) lab.exec(edge, 'sysctl', '-qw', `net.ipv4.conf.up${i}.rp_filter=1`)

  const counterNames: string[] = []
  const rules: string[] = []
  for (const path of UPLINKS) {
    for (const dev of UPLINKS) {
      counterNames.push(`out_${path}_${dev}`, `in_${path}_${dev}`)
      rules.push(`add rule inet prt out oifname "up${dev}" ip saddr ${uplinkAddress(path)} udp dport 862 counter name "out_${path}_${dev}"`)
      rules.push(`add rule inet prt in iifname "up${dev}" ip daddr ${uplinkAddress(path)} udp sport 862 counter name "in_${path}_${dev}"`)
    }
  }
  const ruleset = [
    'add table inet prt',
    ...counterNames.map(n => `add counter inet prt ${n}`),
    'add chain inet prt out { type filter hook output priority 0; }',
    'add chain inet prt in { type filter hook input priority 0; }',
    ...rules,
  ].join('\n')
  execFileSync('ip', ['netns', 'exec', edge, 'nft', '-f', '-'], { input: ruleset, stdio: ['pipe', 'pipe', 'pipe'] })
  const counters = (): Record<string, number> => {
    const json = JSON.parse(lab.exec(edge, 'nft', '-j', 'list', 'counters', 'table', 'inet', 'prt')) as {
      nftables: { counter?: { name: string; packets: number } }[]
    }
    return Object.fromEntries(json.nftables.filter(o => o.counter).map(o => [o.counter!.name, o.counter!.packets]))
  }

  const reflectors: ReflectorProcess[] = []
  t.teardown(async () => {
    for (const r of reflectors) await r.stop()
  })
  for (const p of providers) reflectors.push(await startReflectorProcess(['--address', REFLECTOR_ADDRESS], p))

  const run = (durationMs: number): RunResult => {
    const spec = {
      durationMs,
      targets: UPLINKS.map(i => ({ pathId: `wan${i}`, localAddress: uplinkAddress(i), remoteAddress: REFLECTOR_ADDRESS, port: 862, intervalMs: 20, timeoutMs: 5000 })),
    }
    const r = spawnSync('ip', ['netns', 'exec', edge, process.execPath, '--import', 'tsx', fixture, JSON.stringify(spec)], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`engine run failed (${r.status}): ${r.stderr}`)
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as RunResult
  }
  const byPath = (r: RunResult, i: number): PathMetrics => r.metrics.find(m => m.pathId === `wan${i}`)!

  // Phase 1: all uplinks up.
  const first = run(1500)
  t.same(first.errors, [], 'no engine errors')
  for (const i of UPLINKS) {
    const m = byPath(first, i)
    // Probes still in flight when the run stopped are pending, not lost.
    t.ok(m.totalReceived > 0 && m.lost === 0, `wan${i}: ${m.totalReceived}/${m.totalSent} replies, none lost`)
  }
  const c1 = counters()
  for (const path of UPLINKS) {
    for (const dev of UPLINKS) {
      if (path === dev) {
        t.ok(c1[`out_${path}_${dev}`]! > 0 && c1[`in_${path}_${dev}`]! > 0, `wan${path}: ${c1[`out_${path}_${dev}`]} out and ${c1[`in_${path}_${dev}`]} in on up${dev}`)
      } else {
        t.equal(c1[`out_${path}_${dev}`]! + c1[`in_${path}_${dev}`]!, 0, `wan${path}: nothing on up${dev}`)
      }
    }
  }

  // Phase 2: uplink 1 — the one the main table's default route uses — goes down.
  lab.exec(edge, 'ip', 'link', 'set', 'up1', 'down')
  const second = run(1500)
  const c2 = counters()
  t.equal(byPath(second, 1).totalReceived, 0, 'wan1 (down) gets no replies')
  t.ok((second.events.wan1?.['send-error'] ?? 0) + (second.events.wan1?.lost ?? 0) > 0, 'and reports its probes failed or lost')
  for (const i of [2, 3]) {
    const m = byPath(second, i)
    t.ok(m.totalReceived > 0 && m.lost === 0, `wan${i} keeps working: ${m.totalReceived}/${m.totalSent} replies, none lost`)
    t.ok(c2[`in_${i}_${i}`]! > c1[`in_${i}_${i}`]!, `wan${i} replies still arrive on up${i}`)
  }
  for (const path of UPLINKS) {
    for (const dev of UPLINKS) {
      if (path !== dev) t.equal(c2[`out_${path}_${dev}`]! + c2[`in_${path}_${dev}`]!, 0, `still nothing of wan${path} on up${dev}`)
    }
  }

  // Replies are told apart by which reflector instance sent them: provider i's reflector answered
  // exactly the replies the edge counted arriving on up<i> for wan<i> (veth loses nothing).
  for (const [index, r] of reflectors.entries()) {
    const i = index + 1
    const out = await r.stop()
    const stats = JSON.parse(/reflector stopped: (\{.*\})/.exec(out.stdout)![1]!) as { replied: number }
    t.equal(stats.replied, c2[`in_${i}_${i}`], `provider ${i}'s reflector sent the ${stats.replied} replies that arrived on up${i}`)
  }
})
