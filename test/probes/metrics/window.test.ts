// The sliding probe window and the PathMetrics computed from it: loss with duplicates, reordering and
// late replies told apart; RTT order statistics; RFC 3550 jitter and the recent jitter; IPDV;
// consecutive replies/misses.
import t from 'tap'
import { LOSS_HORIZON_MS, ProbeWindow, RECENT_JITTER_PAIRS, seqBefore } from '../../../probes/metrics/window.js'
import { computePathMetrics, judgedJitterMs, judgedLossPct, judgedRttMs } from '../../../probes/metrics/path-metrics.js'
import { percentile, summarizeRtt, wilsonLowerPct } from '../../../probes/metrics/stats.js'
import { rng } from '../../helpers/random.js'

const TIMEOUT = 1000

t.test('serial-number order (RFC 1982) across the u32 wrap', async t => {
  t.ok(seqBefore(1, 2))
  t.notOk(seqBefore(2, 1))
  t.notOk(seqBefore(5, 5))
  t.ok(seqBefore(0xffff_fffe, 1), '0xfffffffe is before 1')
})

t.test('nearest-rank percentiles', async t => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  const cases: [number, number][] = [[50, 5], [90, 9], [95, 10], [99, 10], [100, 10], [10, 1], [11, 2]]
  for (const [p, want] of cases) t.equal(percentile(ten, p), want, `p${p} of 1..10`)
  t.same(summarizeRtt([3, 1, 2]), { minMs: 1, avgMs: 2, maxMs: 3, p50Ms: 2, p95Ms: 3, p99Ms: 3 })
  t.equal(summarizeRtt([]), null)
  t.throws(() => percentile([], 50), /no samples/)
})

t.test('outcomes told apart', async t => {
  const w = new ProbeWindow(10)
  for (let seq = 0; seq < 6; seq++) w.sent(seq, seq * 100)
  t.equal(w.reply(0, 10, 10, TIMEOUT), 'reply')
  t.equal(w.reply(2, 215, 15, TIMEOUT), 'reply')
  t.equal(w.reply(1, 220, 120, TIMEOUT), 'reply', 'seq 1 after seq 2: reordered, still a reply')
  t.equal(w.reply(2, 230, 30, TIMEOUT), 'duplicate')
  t.equal(w.reply(3, 1400, 1100, TIMEOUT), 'late', 'reply after the timeout is late')
  t.same(w.expire(1500, TIMEOUT), [4], 'seq 4 times out; seq 5 (sent at 500) not yet')
  t.equal(w.reply(4, 1600, 1200, TIMEOUT), 'late', 'a reply to a probe already declared lost is late')
  t.equal(w.reply(99, 1600, 1, TIMEOUT), 'unknown')
  const m = computePathMetrics('p', w, 1600)
  t.match(m, { settled: 5, received: 3, lost: 2, late: 2, duplicates: 1, reordered: 1, lossPct: 40 })
  t.same(m.rtt, { minMs: 10, avgMs: 145 / 3, maxMs: 120, p50Ms: 15, p95Ms: 120, p99Ms: 120 })
  t.equal(m.consecutiveMisses, 2, 'the two newest settled probes (3 and 4) were missed')
  t.equal(m.consecutiveReplies, 0)
  t.equal(m.lastReplyAt, 220)
  t.equal(m.totalSent, 6)
  t.equal(m.totalReceived, 3)
})

t.test('RFC 3550 jitter (gain 1/16, arrival order) and IPDV (consecutive sequence numbers)', async t => {
  const w = new ProbeWindow(10)
  const rtts = [10, 14, 12, 12, 20]
  rtts.forEach((rtt, seq) => {
    w.sent(seq, seq * 100)
    w.reply(seq, seq * 100 + rtt, rtt, TIMEOUT)
  })
  // J1 = 0 + (4-0)/16 = 0.25; J2 = 0.25 + (2-0.25)/16; J3 = J2 + (0-J2)/16; J4 = J3 + (8-J3)/16
  let j = 0
  for (const d of [4, 2, 0, 8]) j += (d - j) / 16
  t.equal(computePathMetrics('p', w, 500).jitterMs, j)
  t.same(computePathMetrics('p', w, 500).ipdv, { meanAbsMs: (4 + 2 + 0 + 8) / 4, maxAbsMs: 8 })
})

/** A window fed `rtts` as on-time replies to probes 100 ms apart; seq i's reply has RTT rtts[i]. */
function windowOf(rtts: readonly number[], capacity = 100): ProbeWindow {
  const w = new ProbeWindow(capacity)
  rtts.forEach((rtt, seq) => {
    w.sent(seq, seq * 100)
    w.reply(seq, seq * 100 + rtt, rtt, TIMEOUT)
  })
  return w
}

t.test('recent jitter: mean |D| over the last RECENT_JITTER_PAIRS reply pairs', async t => {
  const cases: Array<[string, number[], number]> = [
    ['no reply', [], 0],
    ['one reply: no pair yet', [10], 0],
    ['fewer pairs than the span: their mean', [10, 14, 12], (4 + 2) / 2],
    ['steady RTT', Array(30).fill(25), 0],
    // 12 pairs: the first two (|D| 90, 90) have left the span, the last ten are 0 … 0, 5.
    ['old pairs leave the span', [10, 100, 10, ...Array(10).fill(10), 15], 5 / RECENT_JITTER_PAIRS],
    ['alternating ±40', Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? 20 : 60)), 40],
  ]
  for (const [name, rtts, want] of cases) t.equal(computePathMetrics('p', windowOf(rtts), 10_000).recentJitterMs, want, name)
  t.equal(RECENT_JITTER_PAIRS, 10, 'ten pairs: one second at the default 100 ms probes')
})

t.test('recent jitter skips lost and late probes (arrival order of on-time replies, as RFC 3550)', async t => {
  const w = new ProbeWindow(10)
  for (let seq = 0; seq < 4; seq++) w.sent(seq, seq * 100)
  w.reply(0, 10, 10, TIMEOUT)
  w.reply(1, 100 + 1500, 1500, TIMEOUT)
  w.reply(3, 330, 30, TIMEOUT)
  const m = computePathMetrics('p', w, 5000)
  t.equal(m.late, 1)
  t.equal(m.recentJitterMs, 20, 'the late reply is no transit sample: one pair, 10 → 30 ms')
})


t.test('property: recent jitter is the mean of the last ten |D|, and stays within their min and max', async t => {
  for (let seed = 1; seed <= 200; seed++) {
    const random = rng(seed)
    const rtts = Array.from({ length: 1 + Math.floor(random() * 60) }, () => 5 + random() * 200)
    const d = rtts.slice(1).map((r, i) => Math.abs(r - rtts[i]!)).slice(-RECENT_JITTER_PAIRS)
    const got = computePathMetrics('p', windowOf(rtts), 10_000).recentJitterMs
    const want = d.length === 0 ? 0 : d.reduce((a, b) => a + b, 0) / d.length
    if (Math.abs(got - want) > 1e-9) t.fail(`seed ${seed}: ${got} ≠ ${want}`)
    if (d.length > 0 && (got < Math.min(...d) - 1e-9 || got > Math.max(...d) + 1e-9)) t.fail(`seed ${seed}: ${got} outside the span's |D|`)
  }
  t.pass('200 random RTT sequences')
})

t.test('property: after a jitter step, the recent figure crosses 60 % of it within 7 pairs; RFC 3550 needs 13 or more', async t => {
  for (let seed = 1; seed <= 100; seed++) {
    const random = rng(seed)
    const base = 20 + random() * 20
    const step = 20 + random() * 80
    // Calm (|D| ≤ 1 ms), then RTT alternating by `step` around the same base: |D| = step from then on.
    const calm = Array.from({ length: 50 }, () => base + random())
    const rough = Array.from({ length: 20 }, (_, i) => base + (i % 2 === 0 ? step : 0))
    const at = (n: number) => computePathMetrics('p', windowOf([...calm, ...rough.slice(0, n)]), 100_000)
    const first = (f: (m: ReturnType<typeof at>) => number) => Array.from({ length: 21 }, (_, n) => n).find(n => f(at(n)) > 0.6 * step)
    const recent = first(m => m.recentJitterMs)
    const rfc3550 = first(m => m.jitterMs)
    if (recent === undefined || recent > 7) t.fail(`seed ${seed}: recent jitter crossed 60 % of ${step} after ${recent} pairs`)
    if (rfc3550 !== undefined && rfc3550 < 13) t.fail(`seed ${seed}: RFC 3550 jitter crossed after ${rfc3550}`)
  }
  t.pass('100 random steps')
})

t.test('judged jitter: the recent figure to breach; the larger of recent and RFC 3550 to clear', async t => {
  t.equal(judgedJitterMs({ jitterMs: 12, recentJitterMs: 40 }, false), 40)
  t.equal(judgedJitterMs({ jitterMs: 40, recentJitterMs: 5 }, false), 5)
  t.equal(judgedJitterMs({ jitterMs: 40, recentJitterMs: 5 }, true), 40, 'one quiet second does not clear a rough spell')
  t.equal(judgedJitterMs({ jitterMs: 5, recentJitterMs: 40 }, true), 40)
})

t.test('IPDV skips pairs broken by a loss', async t => {
  const w = new ProbeWindow(10)
  for (let seq = 0; seq < 3; seq++) w.sent(seq, seq * 100)
  w.reply(0, 10, 10, TIMEOUT)
  w.reply(2, 230, 30, TIMEOUT)
  w.expire(2000, TIMEOUT)
  const m = computePathMetrics('p', w, 2000)
  t.equal(m.ipdv, null, 'no two consecutive sequence numbers were both answered')
  t.equal(m.consecutiveReplies, 1)
})

t.test('the window slides: only the newest `capacity` probes count', async t => {
  const w = new ProbeWindow(3)
  for (let seq = 0; seq < 5; seq++) w.sent(seq, seq)
  w.expire(10_000, TIMEOUT)
  t.same(w.records().map(r => r.seq), [2, 3, 4])
  t.equal(computePathMetrics('p', w, 10_000).settled, 3)
  t.equal(w.reply(0, 10_001, 5, TIMEOUT), 'unknown', 'a reply to a probe that slid out is not counted')
  t.throws(() => new ProbeWindow(0), /positive integer/)
})

t.test('pending probes are not counted as lost', async t => {
  const w = new ProbeWindow(10)
  w.sent(0, 0)
  w.sent(1, 100)
  w.reply(0, 5, 5, TIMEOUT)
  const m = computePathMetrics('p', w, 150)
  t.match(m, { settled: 1, received: 1, lost: 0, lossPct: 0, consecutiveReplies: 1 })
  t.equal(m.mos !== null && m.mos > 4.3, true, 'a clean 5 ms path scores high')
})

t.test('an unanswered probe between replies breaks the run of replies, even before it times out', async t => {
  const w = new ProbeWindow(10)
  for (let seq = 0; seq < 5; seq++) w.sent(seq, seq * 100)
  w.reply(0, 10, 10, TIMEOUT)
  w.reply(1, 110, 10, TIMEOUT)
  // 2 and 3 are still pending (an outage); 4 is answered.
  w.reply(4, 410, 10, TIMEOUT)
  t.equal(computePathMetrics('p', w, 420).consecutiveReplies, 1, 'only the reply after the gap counts')
  w.sent(5, 500)
  t.equal(computePathMetrics('p', w, 505).consecutiveReplies, 1, 'an in-flight probe at the newest end is skipped')
})

t.test('an outage (outageMisses lost in a row) is left out of the loss figure; shorter runs count', async t => {
  // 20 answered, 10 lost in a row (a blackout), 20 answered, then 2 lost in a row, 8 answered.
  const pattern = [...Array(20).fill(true), ...Array(10).fill(false), ...Array(20).fill(true), false, false, ...Array(8).fill(true)]
  const w = new ProbeWindow(100)
  pattern.forEach((answered, seq) => {
    w.sent(seq, seq * 100)
    if (answered) w.reply(seq, seq * 100 + 5, 5, TIMEOUT)
  })
  w.expire(pattern.length * 100 + TIMEOUT, TIMEOUT)
  const now = pattern.length * 100 + TIMEOUT
  const every = computePathMetrics('p', w, now)
  t.match(every, { settled: 60, lost: 12, outageLost: 0, lossPct: 20 }, 'without outageMisses every loss counts')
  const judged = computePathMetrics('p', w, now, 4)
  t.match(judged, { settled: 60, lost: 12, outageLost: 10 }, 'the 10-probe run is an outage')
  t.equal(judged.lossPct, (2 / 50) * 100, 'the 2-probe run is loss: 2 of the 50 probes outside the outage')
  t.equal(computePathMetrics('p', w, now, 11).lossPct, 20, 'a run shorter than outageMisses is loss')
  t.equal(computePathMetrics('p', w, now, 2).lossPct, 0, 'both runs are outages at outageMisses 2')
})

/** Sends `answered.length` probes 100 ms apart from seq `from`, answering those marked true after 5 ms. */
function feed(w: ProbeWindow, answered: readonly boolean[], from = 0): number {
  answered.forEach((ok, i) => {
    const seq = from + i
    w.sent(seq, seq * 100)
    if (ok) w.reply(seq, seq * 100 + 5, 5, TIMEOUT)
    w.expire(seq * 100, TIMEOUT)
  })
  return from + answered.length
}

t.test('the loss horizon: probes that left the window still count for the last minute, then not', async t => {
  const w = new ProbeWindow(100)
  // 300 probes, every 10th lost, then 100 clean ones: the window is clean, the minute is not.
  let seq = feed(w, Array.from({ length: 300 }, (_, i) => i % 10 !== 0))
  seq = feed(w, Array(100).fill(true), seq)
  let m = computePathMetrics('p', w, seq * 100)
  t.match(m, { lost: 0, lossPct: 0 })
  t.same(m.lossHorizon, { lost: 30, settled: 400 }, 'all 400 probes were sent within the last minute')
  // 600 more clean probes push the lossy ones (the last sent at 29 s) out of the minute.
  seq = feed(w, Array(600).fill(true), seq)
  m = computePathMetrics('p', w, seq * 100)
  t.equal(m.lossHorizon.settled, LOSS_HORIZON_MS / 100 + 1, 'a minute of probes, both ends included')
  t.equal(m.lossHorizon.lost, 0)
})

t.test('the loss horizon leaves outages out, also across the window edge', async t => {
  const w = new ProbeWindow(20)
  // 10 answered, an outage of 15 lost in a row straddling the window edge later, then 2 lost, 20 answered.
  const pattern = [...Array(10).fill(true), ...Array(15).fill(false), ...Array(10).fill(true), false, false, ...Array(20).fill(true)]
  const seq = feed(w, pattern)
  const m = computePathMetrics('p', w, seq * 100 + TIMEOUT, 3)
  t.same(m.lossHorizon, { lost: 2, settled: pattern.length - 15 })
  t.same(computePathMetrics('p', w, seq * 100 + TIMEOUT).lossHorizon, { lost: 17, settled: pattern.length }, 'without outageMisses every loss counts')
})

t.test('Wilson lower bounds against known values', async t => {
  t.equal(wilsonLowerPct(0, 100, 3.09), 0)
  t.equal(wilsonLowerPct(3, 0, 3.09), 0)
  t.equal(Math.round(wilsonLowerPct(3, 100, 1.645) * 1000) / 1000, 1.205)
  t.equal(Math.round(wilsonLowerPct(5, 100, 3.09) * 1000) / 1000, 1.387)
  t.ok(wilsonLowerPct(100, 100, 3.09) < 100 && wilsonLowerPct(100, 100, 3.09) > 90)
})

t.test('judged loss: confident on either span to breach; the window itself and the horizon bound to clear', async t => {
  const at = (lost: number, horizonLost: number, horizonSettled: number) => ({ lost, outageLost: 0, settled: 100, lossPct: lost, lossHorizon: { lost: horizonLost, settled: horizonSettled } })
  t.ok(judgedLossPct(at(2, 2, 100), false) < 1, 'two of 100 is not confidently over 1 %')
  t.ok(judgedLossPct(at(5, 5, 100), false) > 1, 'five of 100 is')
  t.ok(judgedLossPct(at(2, 30, 1200), false) > 1, '30 of the last minute\'s 1200 is, though the window holds 2')
  t.ok(judgedLossPct(at(1, 10, 1200), true) > 0.9, 'clearing: one loss in the window holds a 1 % breach')
  t.ok(judgedLossPct(at(0, 10, 1200), true) < 0.9, 'a clean window with a minute not confidently over 0.9 % clears it')
  t.ok(judgedLossPct(at(0, 40, 1200), true) > 0.9, 'a clean window does not clear a minute confidently over the bound')
})

t.test('recent RTT: the mean of the newest ten on-time replies; judged like jitter', async t => {
  const w = new ProbeWindow(100)
  for (let seq = 0; seq < 30; seq++) {
    w.sent(seq, seq * 100)
    if (seq !== 25) w.reply(seq, seq * 100 + (seq < 20 ? 10 : 110), seq < 20 ? 10 : 110, TIMEOUT)
  }
  const m = computePathMetrics('p', w, 3000)
  t.equal(m.recentRttMs, (9 * 110 + 10) / 10, 'nine 110 ms replies (one lost) and the last 10 ms one before them')
  t.equal(judgedRttMs(m, false), m.recentRttMs)
  t.equal(judgedRttMs({ recentRttMs: 20, rtt: m.rtt }, true), m.rtt!.avgMs, 'clearing: the window average holds it')
  t.equal(judgedRttMs({ recentRttMs: null, rtt: null }, false), null)
})

t.test('a probe overtaken by a later reply is presumed lost once the reordering window has passed', async t => {
  const w = new ProbeWindow(100)
  for (let seq = 0; seq < 4; seq++) w.sent(seq, seq * 100)
  w.reply(0, 20, 20, TIMEOUT)
  // 1 gets no reply; 2's reply overtakes it at 220. RACK's window: a quarter of the 20 ms minimum RTT.
  w.reply(2, 220, 20, TIMEOUT)
  t.match(computePathMetrics('p', w, 224), { lost: 0, settled: 2 }, 'within 5 ms of being overtaken: still just pending')
  t.match(computePathMetrics('p', w, 226), { lost: 1, settled: 3, lossPct: (1 / 3) * 100 }, 'then presumed lost, long before its 1 s timeout')
  t.match(computePathMetrics('p', w, 226), { late: 0, consecutiveMisses: 0 }, 'not late, and not a miss at the newest end')
  t.same(w.expire(1200, TIMEOUT), [1], 'its timeout settles it as lost for good')
  t.match(computePathMetrics('p', w, 1200), { lost: 1, settled: 3 }, '3, never overtaken, is not counted before its timeout')
  t.same(w.expire(1400, TIMEOUT), [3])
})

t.test('a presumed loss whose reply comes in time was reordering, and widens the window', async t => {
  const w = new ProbeWindow(100)
  for (let seq = 0; seq < 3; seq++) w.sent(seq, seq * 100)
  w.reply(1, 120, 20, TIMEOUT)
  t.match(computePathMetrics('p', w, 200), { lost: 1 }, '0 presumed lost 80 ms after 1 overtook it')
  t.equal(w.reply(0, 260, 260, TIMEOUT), 'reply', 'its reply came within the timeout: a reply, reordered')
  t.match(computePathMetrics('p', w, 260), { lost: 0, received: 2 })
  // 2 is overtaken by 3 at 340; it needed 140 ms of waiting to be seen as reordering, so 2 waits that long.
  w.sent(3, 300)
  w.reply(3, 340, 40, TIMEOUT)
  t.match(computePathMetrics('p', w, 470), { lost: 0 }, '130 ms after being overtaken: within the widened window')
  t.match(computePathMetrics('p', w, 481), { lost: 1 }, '141 ms: presumed lost')
})

t.test('the loss horizon counts presumed losses as the window does', async t => {
  const w = new ProbeWindow(100)
  for (let seq = 0; seq < 3; seq++) w.sent(seq, seq * 100)
  w.reply(0, 10, 10, TIMEOUT)
  w.reply(2, 210, 10, TIMEOUT)
  t.same(computePathMetrics('p', w, 300).lossHorizon, { lost: 1, settled: 3 })
})
