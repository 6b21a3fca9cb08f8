// pathHealth: blackout from silence (not only from timeouts), recovery hysteresis, brownout thresholds
// with their own hysteresis, carrier loss, and `since` — by table of (prev, metrics, link, now).
import t from 'tap'
import { pathHealth, type PathHealth } from '../../probes/health.js'
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'
import { withProbeDefaults } from '../../probes/settings.js'

const settings = withProbeDefaults({ intervalMs: 50, brownout: { latencyMs: 100, jitterMs: 20, lossPct: 5 } })
const UP = { up: true }

function metrics(over: Partial<PathMetrics> = {}): PathMetrics {
  return {
    pathId: 'wan1', at: 1000, settled: 100, received: 100, lost: 0, late: 0, duplicates: 0, reordered: 0, lossPct: 0, outageLost: 0,
    lossHorizon: { lost: 0, settled: 1000 }, recentRttMs: 12,
    rtt: { minMs: 10, avgMs: 12, maxMs: 20, p50Ms: 12, p95Ms: 18, p99Ms: 20 }, jitterMs: 1, recentJitterMs: 1, ipdv: null, mos: 4.4,
    lastReplyAt: 1000, lastStray: null, firstSentAt: 0, consecutiveReplies: 100, consecutiveMisses: 0, totalSent: 100, totalReceived: 100,
    ...over,
  }
}
/** `pct` % of the window's 100 probes and of the last minute's 1000 lost. */
const loss = (pct: number): Partial<PathMetrics> => ({ lost: pct, received: 100 - pct, lossPct: pct, lossHorizon: { lost: pct * 10, settled: 1000 } })
const rttOf = (avgMs: number, recentRttMs: number, minMs = 1, p95Ms = 190): Partial<PathMetrics> => ({ recentRttMs, rtt: { minMs, avgMs, maxMs: p95Ms + 10, p50Ms: avgMs, p95Ms, p99Ms: p95Ms + 10 } })
const was = (state: PathHealth['state'], since = 500): PathHealth => ({ state, reason: 'earlier', since })

t.test('verdicts', async t => {
  const cases: [string, PathHealth | null, PathMetrics | null, boolean, number, string, RegExp][] = [
    ['carrier lost wins over everything', was('up'), metrics(), false, 1000, 'down', /^carrier lost$/],
    ['nothing sent yet', null, null, true, 1000, 'down', /no probe sent yet/],
    ['healthy path', was('up'), metrics(), true, 1010, 'up', /^ok$/],
    ['silence of 3 × 50 ms past the RTT spread (p95 − min, 8 ms) = blackout, before any timeout fired', was('up'), metrics(), true, 1158, 'down', /blackout: no reply for 158 ms \(3 probes missed beyond the 8 ms RTT spread, limit 3\)/],
    ['silence of 157 ms is not yet 3 misses', was('up'), metrics(), true, 1157, 'up', /^ok$/],
    ['a jittery path (RTTs spread 280 ms): 400 ms of silence is delay, not 3 misses', was('up'), metrics(rttOf(100, 100, 20, 300)), true, 1400, 'up', /^ok$/],
    ['a jittery path: 430 ms of silence is', was('up'), metrics(rttOf(100, 100, 20, 300)), true, 1430, 'down', /no reply for 430 ms \(3 probes missed beyond the 280 ms RTT spread, limit 3\)/],
    ['a blackout while a stranger sends to the probe port names it', was('up'), metrics({ lastStray: { from: '192.0.2.99:862', at: 1100 } }), true, 1158, 'down', /limit 3\); datagrams from 192\.0\.2\.99:862 instead, which is not the reflector$/],
    ['a stranger heard before the last reply is not the reason', was('up'), metrics({ lastStray: { from: '192.0.2.99:862', at: 900 } }), true, 1158, 'down', /limit 3\)$/],
    ['timed-out misses in a row count too', was('up'), metrics({ consecutiveMisses: 3, consecutiveReplies: 0 }), true, 1000, 'down', /3 probes missed/],
    ['never a reply', null, metrics({ lastReplyAt: null, firstSentAt: 900, received: 0, consecutiveReplies: 0 }), true, 1100, 'down', /no reply yet/],
    ['down stays down until 5 replies in a row', was('down'), metrics({ consecutiveReplies: 4 }), true, 1000, 'down', /recovering: 4\/5/],
    ['5 replies in a row bring it up', was('down'), metrics({ consecutiveReplies: 5 }), true, 1000, 'up', /^ok$/],
    ['first verdict needs the replies too', null, metrics({ consecutiveReplies: 2 }), true, 1000, 'down', /recovering: 2\/5/],
    ['latency brownout: the recent RTT', was('up'), metrics(rttOf(60, 120)), true, 1000, 'degraded', /latency 120 ms > 100 ms/],
    ['the window average RTT alone does not brown a path out', was('up'), metrics(rttOf(120, 60)), true, 1000, 'up', /^ok$/],
    ['a latency brownout holds while the window average is above 90 %', was('degraded'), metrics(rttOf(95, 50)), true, 1000, 'degraded', /brownout clearing: latency 95 ms > 90 ms/],
    ['jitter brownout: the recent jitter', was('up'), metrics({ recentJitterMs: 25 }), true, 1000, 'degraded', /jitter 25 ms > 20 ms/],
    ['RFC 3550 jitter alone does not brown a path out', was('up'), metrics({ jitterMs: 25 }), true, 1000, 'up', /^ok$/],
    ['a jitter brownout holds while RFC 3550 jitter is above 90 %', was('degraded'), metrics({ jitterMs: 19, recentJitterMs: 5 }), true, 1000, 'degraded', /brownout clearing: jitter 19 ms > 18 ms \(90% of limit\)/],
    ['a jitter brownout clears with both under 90 %', was('degraded'), metrics({ jitterMs: 17, recentJitterMs: 17 }), true, 1000, 'up', /^ok$/],
    ['loss brownout: confidently over the limit over the last minute', was('up'), metrics(loss(7)), true, 1000, 'degraded', /loss at least 5\.\d+% > 5% \(lost 7 of the last 100 probes, 70 of 1000 in the last minute\)/],
    ['7 lost of 100 alone is not confidently over 5 %', was('up'), metrics({ ...loss(7), lossHorizon: { lost: 7, settled: 100 } }), true, 1000, 'up', /^ok$/],
    ['12 lost of the last 100 is, without a longer history', was('up'), metrics({ ...loss(12), lossHorizon: { lost: 12, settled: 100 } }), true, 1000, 'degraded', /loss at least 6\.\d+% > 5%/],
    ['all three listed', was('up'), metrics({ ...loss(7), recentJitterMs: 25, ...rttOf(1, 101) }), true, 1000, 'degraded', /latency .*, jitter .*, loss /],
    ['degraded holds within 90 % of a threshold', was('degraded'), metrics({ ...loss(4), lossPct: 4.6 }), true, 1000, 'degraded', /brownout clearing: loss 4.6% > 4.5% \(90% of limit\)/],
    ['degraded clears below 90 %', was('degraded'), metrics({ ...loss(4), lossPct: 4.4 }), true, 1000, 'up', /^ok$/],
    ['an up path at 4.6 % loss stays up', was('up'), metrics({ ...loss(4), lossPct: 4.6 }), true, 1000, 'up', /^ok$/],
    ['blackout beats brownout', was('degraded'), metrics({ lossPct: 50 }), true, 1200, 'down', /blackout/],
  ]
  for (const [name, prev, m, link, now, state, reason] of cases) {
    const h = pathHealth(prev, m, settings, { up: link }, now)
    t.equal(h.state, state, `${name}: state`)
    t.match(h.reason, reason, `${name}: reason '${h.reason}'`)
  }
})

t.test('since: kept while the state holds, now when it changes', async t => {
  t.equal(pathHealth(was('up', 123), metrics(), settings, UP, 1000).since, 123)
  t.equal(pathHealth(was('up', 123), metrics(), settings, { up: false }, 1000).since, 1000)
  t.equal(pathHealth(null, null, settings, UP, 42).since, 42)
})

t.test('a dead path is seen in about downAfterMisses × intervalMs, stepping time forward', async t => {
  // Replies stop after t = 1000; the verdict is asked every 10 ms as the steering loop would.
  let h: PathHealth = was('up')
  let downAt = -1
  for (let now = 1000; now <= 2000 && downAt < 0; now += 10) {
    h = pathHealth(h, metrics({ at: now }), settings, UP, now)
    if (h.state === 'down') downAt = now
  }
  t.equal(downAt - 1000, 160, 'down within 10 ms of 158 ms after the last reply (3 × 50 ms past the 8 ms RTT spread), with timeoutMs 1000')
})

t.test('no brownout settings → never degraded', async t => {
  const plain = withProbeDefaults({ intervalMs: 50 })
  t.equal(pathHealth(was('up'), metrics(loss(60)), plain, UP, 1000).state, 'up')
})
