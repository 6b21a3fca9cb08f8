// A loss SLA judged end to end on real metrics: probe outcomes go through the probe window and its loss
// horizon (probes/metrics/window.ts), path health and decide() every 50 ms, as the daemon runs them with
// the failover bench's probes. A link whose loss sits under the SLA is never left; one hovering around it
// is left rarely and never flapped back and forth; a heavy loss brownout is left within seconds and a
// mild lasting one within about a minute. Seeded, so a failure reproduces.
import t from 'tap'
import { decide, type SteeringState } from '../../../edge/steering/decide.js'
import { pathHealth, type PathHealth } from '../../../probes/health.js'
import { computePathMetrics } from '../../../probes/metrics/path-metrics.js'
import { ProbeWindow } from '../../../probes/metrics/window.js'
import { threeUplinks } from '../../helpers/steering.js'
import { rng } from '../../helpers/random.js'

const voip = threeUplinks(`  - name: voip
    match: [{ segments: [lan] }]
    sla: { maxLossPct: 1 }
    paths: [a, b]
    failover: { holdDownMs: 10000, failbackDelayMs: 30000, brownoutConfirmMs: 1000 }`)
const INTERVAL = 50
const TIMEOUT = 1000
const settings = { ...voip.probes, intervalMs: INTERVAL, timeoutMs: TIMEOUT }

/** One probed path: each step sends a probe, lost with the given round-trip probability, else answered in 20 ms. */
function path(name: string, random: () => number) {
  const window = new ProbeWindow(settings.windowSize)
  let seq = 0
  let health: PathHealth | null = null
  return {
    step(now: number, lossPct: number) {
      window.sent(seq, now)
      if (random() * 100 >= lossPct) window.reply(seq, now + 20, 20, TIMEOUT)
      seq++
      window.expire(now, TIMEOUT)
      const metrics = computePathMetrics(name, window, now, settings.downAfterMisses)
      health = pathHealth(health, metrics, settings, { up: true }, now)
      return { health, metrics }
    },
  }
}

/** Ten minutes of a (round-trip loss changing every 10 s), b clean; VoIP's moves with their times. */
function soak(seed: number, lossOfA: (random: () => number) => number, spanMs = 600_000) {
  const random = rng(seed)
  const a = path('a', random)
  const b = path('b', random)
  let state: SteeringState = {}
  let loss = lossOfA(random)
  const moves: Array<{ at: number; from: string; to: string; reason: string }> = []
  for (let now = 0; now <= spanMs; now += INTERVAL) {
    if (now % 10_000 === 0) loss = lossOfA(random)
    const r = decide(voip, { a: a.step(now, loss), b: b.step(now, 0) }, state, now)
    state = r.state
    if (now >= 1000) for (const c of r.changes) moves.push({ at: now, from: c.from.join('+'), to: c.to.join('+'), reason: c.reason })
  }
  return moves
}

const roundTrip = (oneWayPct: number) => (1 - (1 - oneWayPct / 100) ** 2) * 100

t.test('loss under the SLA (0.2–0.8 % round trip) for ten minutes: never left', async t => {
  for (let seed = 1; seed <= 20; seed++) {
    const moves = soak(seed, random => 0.2 + random() * 0.6)
    t.equal(moves.length, 0, `seed ${seed}: ${moves.map(m => `${m.at} ${m.from}→${m.to}: ${m.reason}`).join(' | ') || 'no move'}`)
  }
})

t.test('loss hovering around the SLA (0.2–0.6 % each way, as the failover soak) for ten minutes: left rarely, never flapped', async t => {
  const departures: string[] = []
  for (let seed = 1; seed <= 20; seed++) {
    const moves = soak(seed, random => roundTrip(0.2 + random() * 0.4))
    const left = moves.filter(m => m.from === 'a')
    departures.push(...left.map(m => `seed ${seed} at ${m.at}: ${m.reason}`))
    // Oscillation: back on a and off it again within a minute.
    const flaps = moves.filter((m, i) => i >= 2 && m.from === 'a' && moves[i - 1]!.to === 'a' && m.at - moves[i - 2]!.at < 60_000)
    t.ok(left.length <= 1 && flaps.length === 0, `seed ${seed}: ${moves.map(m => `${m.at} ${m.from}→${m.to}: ${m.reason}`).join(' | ') || 'no move'}`)
  }
  // Each departure is a window with 5 of 100 probes lost while the last minute held 0.9–1.6 %: the link
  // really is over 1 % a third of the time. Measured: 4 in these 200 minutes.
  t.comment(`a was left ${departures.length} times in 20 × 10 minutes: ${departures.join(' | ') || 'never'}`)
})

/** VoIP settled on a; from a random moment a loses `lossPct` round trip; how long until VoIP leaves it. */
function timeToLeave(seed: number, lossPct: number, limitMs: number): number | null {
  const random = rng(seed)
  const a = path('a', random)
  const b = path('b', random)
  let state: SteeringState = {}
  const stepAt = 70_000 + Math.floor(random() * 100) * INTERVAL
  for (let now = 0; now <= stepAt + limitMs; now += INTERVAL) {
    const r = decide(voip, { a: a.step(now, now >= stepAt ? lossPct : 0), b: b.step(now, 0) }, state, now)
    state = r.state
    if (now >= stepAt && r.decisions[0]!.active[0]?.path !== 'a') return now - stepAt
  }
  return null
}

// A loss counts once a later probe's reply has overtaken it (window.ts; no need to wait for its 1 s
// timeout); 5 of the window's 100 must be lost to be confident at 99.9 % that 1 % is broken (at 10 %: some
// 50 probes, 2.5 s), and then the confirmation (1 s). Measured: 10 % → p50 3.7 s, p95 5.0 s; 25 % → p50
// 2.0 s, p95 2.6 s (a timeout later each when losses counted only at the timeout).
t.test('a heavy loss brownout is left within seconds', async t => {
  for (const [lossPct, within] of [[10, 5500], [25, 3000]] as const) {
    const times = Array.from({ length: 50 }, (_, i) => timeToLeave(i + 1, lossPct, 20_000))
    const slow = times.filter(ms => ms === null || ms > within)
    const sorted = times.filter((ms): ms is number => ms !== null).sort((x, y) => x - y)
    t.ok(slow.length <= 2, `${lossPct} % loss: left after p50 ${sorted[24]} ms, p95 ${sorted[47]} ms, max ${sorted.at(-1)} ms; over ${within} ms: ${slow.length} of 50`)
  }
})

t.test('a mild but lasting breach (2.5 % against 1 %) is left within about a minute', async t => {
  const times = Array.from({ length: 20 }, (_, i) => timeToLeave(i + 1, 2.5, 120_000))
  t.ok(times.every(ms => ms !== null && ms <= 90_000), `left after ${times.join(', ')} ms`)
})
