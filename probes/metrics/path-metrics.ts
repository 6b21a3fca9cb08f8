// One snapshot of a path's measurements over its sliding window: the `PathMetrics` the engine emits and
// `pathHealth` judges. Pure: computed from a ProbeWindow and the caller's `now`.
import { summarizeRtt, wilsonLowerPct, type RttSummary } from './stats.js'
import { estimateMos } from './mos.js'
import { RECENT_JITTER_PAIRS, type ProbeRecord, type ProbeWindow } from './window.js'

export interface PathMetrics {
  readonly pathId: string
  /** Monotonic ms (probes/clock.ts monotonicMs) when the snapshot was taken. */
  readonly at: number
  /**
   * Probes in the window that are settled (answered, lost or late) or presumed lost (presumedLost); other
   * pending ones are not counted.
   */
  readonly settled: number
  readonly received: number
  /** No reply within timeoutMs, including those whose reply came later (late ⊆ lost), and those presumed lost. */
  readonly lost: number
  readonly late: number
  readonly duplicates: number
  readonly reordered: number
  /**
   * lost / settled × 100 over the probes outside outages; 0 with nothing settled. An outage is a run of at
   * least `outageMisses` probes lost in a row (computePathMetrics): path health judges it as a blackout,
   * so once the path answers again its loss figure says how lossy it is, not how long it was dead.
   */
  readonly lossPct: number
  /** Of `lost`, the probes lost in outage runs, left out of lossPct. */
  readonly outageLost: number
  /**
   * Loss over the loss horizon (window.ts LOSS_HORIZON_MS: the window and the probes before it sent in the
   * last minute), outage runs left out as for lossPct: `lost` of `settled`.
   */
  readonly lossHorizon: { readonly lost: number; readonly settled: number }
  /** RTT over the window's on-time replies; null when there are none. */
  readonly rtt: RttSummary | null
  /**
   * Mean RTT of the newest RECENT_JITTER_PAIRS on-time replies (send order): a delay step shows in it
   * within a second at 100 ms probes, where the window's average needs most of the window. Null when the
   * window has no reply.
   */
  readonly recentRttMs: number | null
  /** RFC 3550 §6.4.1 interarrival jitter of RTT (running estimator, gain 1/16). */
  readonly jitterMs: number
  /**
   * Mean |D| over the last RECENT_JITTER_PAIRS on-time replies (window.ts): the same quantity as jitterMs
   * over the last second or so at 100 ms probes, so a jitter brownout is seen in ~0.6 s, not ~1.5 s.
   */
  readonly recentJitterMs: number
  /**
   * IP packet delay variation (RFC 5481 §1.2, RFC 3393) of RTT between consecutive sequence numbers both
   * answered on time: mean and max of |rtt(i) − rtt(i−1)|; null with fewer than one such pair.
   */
  readonly ipdv: { readonly meanAbsMs: number; readonly maxAbsMs: number } | null
  /** ITU-T G.107 simplified E-model MOS for G.711 voice (probes/metrics/mos.ts); null without RTT. */
  readonly mos: number | null
  /** Monotonic ms of the last on-time reply, null before the first. */
  readonly lastReplyAt: number | null
  /**
   * The latest datagram that reached the probe port from someone other than the reflector (a reflector
   * answering from another of its addresses, say): its source and monotonic ms; null if none ever did.
   */
  readonly lastStray: { readonly from: string; readonly at: number } | null
  /** Monotonic ms of the first probe sent on this path. */
  readonly firstSentAt: number | null
  /** Probes at the newest end of the window answered in a row (in-flight ones at the very end skipped). */
  readonly consecutiveReplies: number
  /** Settled probes at the newest end of the window that were lost (timed out), in a row. */
  readonly consecutiveMisses: number
  /** Lifetime counters (not windowed), for one-shot summaries. */
  readonly totalSent: number
  readonly totalReceived: number
}

/**
 * The jitter an SLA or brownout threshold is judged against. A breach is the recent jitter over the
 * limit (quick to see); clearing it (`clearing`, judged at the recovery factor) needs the recent jitter
 * and RFC 3550's smoothed J both under the bound, so one quiet second after a rough spell does not clear
 * it while the longer view still says otherwise.
 */
export function judgedJitterMs(m: Pick<PathMetrics, 'jitterMs' | 'recentJitterMs'>, clearing: boolean): number {
  return clearing ? Math.max(m.recentJitterMs, m.jitterMs) : m.recentJitterMs
}

/**
 * The RTT a latency SLA or brownout threshold is judged against, the same way as jitter: a breach is the
 * recent mean over the limit; clearing needs the recent mean and the window's average both under the
 * bound. Null without replies.
 */
export function judgedRttMs(m: Pick<PathMetrics, 'rtt' | 'recentRttMs'>, clearing: boolean): number | null {
  if (m.rtt === null || m.recentRttMs === null) return null
  return clearing ? Math.max(m.recentRttMs, m.rtt.avgMs) : m.recentRttMs
}

/**
 * Confidence (as a normal quantile) a loss breach needs. A loss SLA of about a percent is a handful of
 * probes in a window of a hundred, so the window's loss figure alone swings across the limit on a link
 * that meets it: 0.8 % round trip puts two or more losses (over 1 %) in 19 % of windows. A breach needs
 * the loss to be over the limit with confidence instead — Wilson's lower bound over the limit — on either
 * span: the window (quick to see a heavy brownout: 5 of 100 probes against 1 %) or the loss horizon
 * (the last minute: a mild but lasting breach, 2 % or so, within about a minute). The window is judged
 * some twelve times as often per minute as the horizon, so it needs the stricter bound for the same
 * chance of a false breach: 99.9 % against 99 %.
 */
export const WINDOW_LOSS_Z = 3.09
export const HORIZON_LOSS_Z = 2.326

/**
 * The loss (percent) a loss SLA or brownout threshold is judged against. A breach: the larger of the two
 * spans' lower confidence bounds. Clearing (judged at the recovery factor) needs the window's own figure
 * under the bound, and the horizon no longer confidently over it, so a path comes back once its recent
 * probes are clean and the last minute does not speak against it.
 */
export function judgedLossPct(m: Pick<PathMetrics, 'lost' | 'outageLost' | 'settled' | 'lossPct' | 'lossHorizon'>, clearing: boolean): number {
  const horizon = wilsonLowerPct(m.lossHorizon.lost, m.lossHorizon.settled, HORIZON_LOSS_Z)
  if (clearing) return Math.max(m.lossPct, horizon)
  return Math.max(wilsonLowerPct(m.lost - m.outageLost, m.settled - m.outageLost, WINDOW_LOSS_Z), horizon)
}

/** Loss over the loss horizon (the last minute), in percent, outage runs left out; null before a probe in it settled. */
export function lastMinuteLossPct(m: Pick<PathMetrics, 'lossHorizon'>): number | null {
  return m.lossHorizon.settled === 0 ? null : (m.lossHorizon.lost / m.lossHorizon.settled) * 100
}

/** The counts behind a loss verdict, for its reason: the window's and the horizon's. */
export function lossFigures(m: Pick<PathMetrics, 'lost' | 'outageLost' | 'settled' | 'lossHorizon'>): string {
  return `lost ${m.lost - m.outageLost} of the last ${m.settled - m.outageLost} probes, ${m.lossHorizon.lost} of ${m.lossHorizon.settled} in the last minute`
}

/**
 * How long a probe may stay unanswered after a later one was answered before it is presumed lost: RACK's
 * (RFC 8985 §6.2) a quarter of the minimum RTT, widened to the longest such wait a reply in the window
 * really needed (reordering seen, like RACK's DSACK-driven widening), so a path that reorders does not show
 * loss it does not have. The timeout settles every probe in any case.
 */
export function reorderWindowMs(records: readonly ProbeRecord[]): number {
  let minRtt = Infinity
  let seen = 0
  for (const r of records) {
    if (r.state !== 'received') continue
    minRtt = Math.min(minRtt, r.rttMs!)
    if (r.overtakenAt !== null) seen = Math.max(seen, r.receivedAt! - r.overtakenAt)
  }
  return Math.max(minRtt === Infinity ? 0 : minRtt / 4, seen)
}

/** Still pending, but overtaken by a later probe's reply longer ago than the reordering window. */
export function presumedLost(r: ProbeRecord, now: number, reorderMs: number): boolean {
  return r.state === 'pending' && r.overtakenAt !== null && now - r.overtakenAt > reorderMs
}

/**
 * `outageMisses`: runs of at least this many probes lost in a row are an outage, left out of lossPct (the
 * daemon passes its downAfterMisses); absent, every loss counts (one-shot measurements).
 */
export function computePathMetrics(pathId: string, window: ProbeWindow, now: number, outageMisses?: number): PathMetrics {
  const records = window.records()
  let received = 0
  let lost = 0
  let late = 0
  let duplicates = 0
  let reordered = 0
  let outageLost = 0
  let run = 0
  const endRun = (): void => {
    if (outageMisses !== undefined && run >= outageMisses) outageLost += run
    run = 0
  }
  // On-time RTTs in send order; `received` of them are filled in.
  const rtts = new Float64Array(records.length)
  const reorderMs = reorderWindowMs(records)
  const presumed = (r: ProbeRecord): boolean => presumedLost(r, now, reorderMs)
  for (const r of records) {
    duplicates += r.duplicates
    if (presumed(r)) {
      run++
      lost++
    } else if (r.state === 'received') {
      endRun()
      rtts[received++] = r.rttMs!
      if (r.reordered) reordered++
    } else if (r.state === 'lost' || r.state === 'late') {
      run++
      lost++
      if (r.state === 'late') late++
    } else {
      endRun()
    }
  }
  endRun()
  const lossHorizon = horizonLoss(window, records, presumed, outageMisses)
  let ipdvSum = 0
  let ipdvMax = 0
  let ipdvPairs = 0
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1]!
    const b = records[i]!
    if (a.state !== 'received' || b.state !== 'received' || ((b.seq - a.seq) >>> 0) !== 1) continue
    const d = Math.abs(b.rttMs! - a.rttMs!)
    ipdvSum += d
    ipdvMax = Math.max(ipdvMax, d)
    ipdvPairs++
  }
  let consecutiveReplies = 0
  let consecutiveMisses = 0
  for (let i = records.length - 1; i >= 0; i--) {
    const state = records[i]!.state
    // Probes still in flight at the newest end are not yet anything. But an unanswered probe older than
    // an answered one breaks a run of replies: during an outage the probes sent are still 'pending'
    // until their timeout, and must not let the replies before and after the outage join into one run.
    if (state === 'pending') {
      if (consecutiveReplies > 0) break
      continue
    }
    if (state === 'received') {
      if (consecutiveMisses > 0) break
      consecutiveReplies++
    } else {
      if (consecutiveReplies > 0) break
      consecutiveMisses++
    }
  }
  const settled = received + lost
  const judged = settled - outageLost
  const lossPct = judged === 0 ? 0 : ((lost - outageLost) / judged) * 100
  const rtt = summarizeRtt(rtts.subarray(0, received))
  let recentSum = 0
  for (let i = Math.max(0, received - RECENT_JITTER_PAIRS); i < received; i++) recentSum += rtts[i]!
  const recentCount = Math.min(received, RECENT_JITTER_PAIRS)
  return {
    pathId,
    at: now,
    settled,
    received,
    lost,
    late,
    duplicates,
    reordered,
    lossPct,
    outageLost,
    lossHorizon,
    rtt,
    recentRttMs: recentCount === 0 ? null : recentSum / recentCount,
    jitterMs: window.jitterMs,
    recentJitterMs: window.recentJitterMs,
    ipdv: ipdvPairs === 0 ? null : { meanAbsMs: ipdvSum / ipdvPairs, maxAbsMs: ipdvMax },
    mos: rtt === null ? null : estimateMos(rtt.avgMs, window.jitterMs, lossPct),
    lastReplyAt: window.lastReplyAt,
    lastStray: window.lastStray,
    firstSentAt: window.firstSentAt,
    consecutiveReplies,
    consecutiveMisses,
    totalSent: window.totalSent,
    totalReceived: window.totalReceived,
  }
}

/** Loss over the probes that left the window within the horizon and the window's own, outages left out. */
function horizonLoss(
  window: ProbeWindow,
  records: readonly ProbeRecord[],
  presumed: (r: ProbeRecord) => boolean,
  outageMisses: number | undefined,
): { lost: number; settled: number } {
  let lost = 0
  let settled = 0
  let run = 0
  const endRun = (): void => {
    if (outageMisses === undefined || run < outageMisses) lost += run
    else settled -= run
    run = 0
  }
  const outcome = (isLost: boolean): void => {
    settled++
    if (isLost) run++
    else endRun()
  }
  window.forEachPastOutcome(outcome)
  for (const r of records) if (r.state !== 'pending' || presumed(r)) outcome(r.state !== 'received')
  endRun()
  return { lost, settled }
}
