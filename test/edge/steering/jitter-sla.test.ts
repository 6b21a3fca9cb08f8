// A jitter SLA judged end to end on real metrics: RTT sequences go through the probe window
// (probes/metrics/window.ts), path health and decide() every 100 ms, as the daemon runs them. A jitter
// step is left within the recent jitter's span plus the confirmation time; a link whose jitter hovers at
// the limit for ten minutes is left at most once and never returned to (the hysteresis holds with the
// faster estimator). Seeded, so a failure reproduces.
import t from 'tap'
import { decide, type SteeringState } from '../../../edge/steering/decide.js'
import { pathHealth, type PathHealth } from '../../../probes/health.js'
import { computePathMetrics } from '../../../probes/metrics/path-metrics.js'
import { ProbeWindow, RECENT_JITTER_PAIRS } from '../../../probes/metrics/window.js'
import { threeUplinks } from '../../helpers/steering.js'
import { rng } from '../../helpers/random.js'

const voip = threeUplinks(`  - name: voip
    match: [{ segments: [lan] }]
    sla: { maxJitterMs: 30 }
    paths: [a, b]
    failover: { holdDownMs: 10000, failbackDelayMs: 30000, brownoutConfirmMs: 1000 }`)
const INTERVAL = 100
const { brownoutConfirmMs } = voip.classes[0]!.failover


/** One probed path: each step sends a probe that comes back with the RTT given (always on time). */
function path(name: string) {
  const window = new ProbeWindow(100)
  let seq = 0
  let health: PathHealth | null = null
  return {
    step(now: number, rttMs: number) {
      window.sent(seq, now - rttMs)
      window.reply(seq, now, rttMs, 1000)
      seq++
      const metrics = computePathMetrics(name, window, now)
      health = pathHealth(health, metrics, { ...voip.probes, intervalMs: INTERVAL }, { up: true }, now)
      return { health, metrics }
    },
  }
}

// RTT = base + U(0, w): successive differences have E|D| = w / 3, the figure both jitter estimators track.
const rttWithJitter = (random: () => number, meanAbsD: number) => 40 + random() * 3 * meanAbsD

t.test('a jitter step past the SLA is left within the recent span plus the confirmation (95 of 100), all within 5 s', async t => {
  const bound = RECENT_JITTER_PAIRS * INTERVAL + brownoutConfirmMs
  const late: string[] = []
  for (let seed = 1; seed <= 100; seed++) {
    const random = rng(seed)
    const a = path('a')
    const b = path('b')
    let state: SteeringState = {}
    const stepAt = 20_000 + Math.floor(random() * 50) * INTERVAL
    // A clear brownout: mean |D| from 1.8 to 3 times the SLA. The recent figure is ten samples of |D|,
    // whose spread is ~70 % of their mean: an unlucky quiet run can still dip it under the limit before
    // RFC 3550's J has caught up, which restarts the confirmation: that step is left, but later.
    const level = 55 + random() * 35
    let leftAt: number | undefined
    for (let now = 0; now <= stepAt + 10_000 && leftAt === undefined; now += INTERVAL) {
      const r = decide(voip, { a: a.step(now, rttWithJitter(random, now >= stepAt ? level : 2)), b: b.step(now, rttWithJitter(random, 2)) }, state, now)
      state = r.state
      // Both paths need upAfterReplies replies before their first verdict: judge from the first second on.
      if (now >= 1000 && r.decisions[0]!.active[0]?.path !== 'a') leftAt = now
    }
    if (leftAt === undefined || leftAt < stepAt || leftAt - stepAt > 5000) t.fail(`seed ${seed}: jitter ${level.toFixed(0)} ms from ${stepAt} ms, left a at ${leftAt}`)
    else if (leftAt - stepAt > bound) late.push(`seed ${seed}: ${leftAt - stepAt} ms`)
  }
  t.ok(late.length <= 5, `${100 - late.length} of 100 steps left within ${bound} ms; later: ${late.join(', ') || 'none'}`)
})

t.test('jitter hovering at the SLA for ten minutes: left at most once, never returned to', async t => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = rng(seed)
    const a = path('a')
    const b = path('b')
    let state: SteeringState = {}
    const moves: string[] = []
    for (let now = 0; now <= 600_000; now += INTERVAL) {
      const r = decide(voip, { a: a.step(now, rttWithJitter(random, 28 + random() * 4)), b: b.step(now, rttWithJitter(random, 2)) }, state, now)
      state = r.state
      if (now >= 1000) for (const c of r.changes) moves.push(`${c.from.join('+')}→${c.to.join('+')}`)
    }
    t.ok(moves.length <= 1, `seed ${seed}: ${moves.join(', ') || 'no move'}`)
  }
})

t.test('calm paths (jitter well under the SLA) are never left', async t => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = rng(seed)
    const a = path('a')
    const b = path('b')
    let state: SteeringState = {}
    let changes = 0
    for (let now = 0; now <= 300_000; now += INTERVAL) {
      const r = decide(voip, { a: a.step(now, rttWithJitter(random, 12)), b: b.step(now, rttWithJitter(random, 12)) }, state, now)
      state = r.state
      if (now >= 1000) changes += r.changes.length
    }
    t.equal(changes, 0, `seed ${seed}: mean |D| 12 ms against a 30 ms SLA`)
  }
})
