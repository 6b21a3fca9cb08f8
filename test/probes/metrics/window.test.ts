// The sliding probe window and the PathMetrics computed from it: loss with duplicates, reordering and
// late replies told apart; RTT order statistics; RFC 3550 jitter; IPDV; consecutive replies/misses.
import t from 'tap'
import { ProbeWindow, seqBefore } from '../../../probes/metrics/window.js'
import { computePathMetrics } from '../../../probes/metrics/path-metrics.js'
import { percentile, summarizeRtt } from '../../../probes/metrics/stats.js'

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
