// Path health: an up / degraded / down verdict per path with a reason, for the steering engine. Pure:
// previous verdict, latest metrics, the policy's probe settings, the kernel's link state and `now` in;
// verdict out.
//
//  down      the link is down (carrier or address gone) — at once, reason 'carrier lost';
//            or a blackout: `downAfterMisses` probes in a row unanswered — at once. Misses are counted
//            from the silence since the last reply, beyond the spread of the window's RTTs (p95 − min:
//            a jittery path's replies come that much later at times), per intervalMs — not only from
//            probes whose timeout has expired — so a dead path is seen in ≈ downAfterMisses × intervalMs
//            + that spread rather than timeoutMs + that. `now` must be on the metrics' clock
//            (probes/clock.ts monotonicMs).
//  (stays down) until `upAfterReplies` consecutive replies have arrived (hysteresis against flapping).
//  degraded  a brownout: a threshold exceeded (recent RTT > latencyMs, recent jitter > jitterMs, loss
//            confidently > lossPct; as judgedRttMs, judgedJitterMs and judgedLossPct say). To leave
//            degraded, every figure must fall below 90 % of its threshold, judged as those functions
//            judge clearing, so a path hovering at a threshold does not flap.
//  up        otherwise.
// `since` is when the current state began (kept from `prev` while the state holds).
import { judgedJitterMs, judgedLossPct, judgedRttMs, lossFigures, type PathMetrics } from './metrics/path-metrics.js'
import type { ProbeSettings, BrownoutThresholds } from './settings.js'

export type PathState = 'up' | 'degraded' | 'down'

export interface PathHealth {
  readonly state: PathState
  readonly reason: string
  readonly since: number
}

export interface LinkState {
  /** The kernel reports the uplink's carrier up and its address present. */
  readonly up: boolean
}

/** Leaving 'degraded' needs every figure below this share of its threshold. */
export const BROWNOUT_RECOVERY_FACTOR = 0.9

type HealthSettings = Pick<ProbeSettings, 'intervalMs' | 'downAfterMisses' | 'upAfterReplies' | 'brownout'>

export function pathHealth(
  prev: PathHealth | null,
  metrics: PathMetrics | null,
  settings: HealthSettings,
  link: LinkState,
  now: number,
): PathHealth {
  const verdict = (state: PathState, reason: string): PathHealth => ({
    state,
    reason,
    since: prev !== null && prev.state === state ? prev.since : now,
  })
  if (!link.up) return verdict('down', 'carrier lost')
  if (metrics === null || metrics.firstSentAt === null) return verdict('down', 'no probe sent yet')

  const silenceMs = Math.max(0, now - (metrics.lastReplyAt ?? metrics.firstSentAt))
  // A reply can come as much later than the last one as the path's RTTs spread (p95 over the minimum):
  // silence that long is delay, not loss. Without it, netem's ± 80 ms jitter at 50 ms probes read as a
  // 200 ms blackout in four of ten VM trials, and a path that is only jittery went down for every class.
  const spreadMs = metrics.rtt === null ? 0 : metrics.rtt.p95Ms - metrics.rtt.minMs
  const silentMisses = Math.floor(Math.max(0, silenceMs - spreadMs) / settings.intervalMs)
  if (metrics.consecutiveMisses >= settings.downAfterMisses || silentMisses >= settings.downAfterMisses) {
    const misses = Math.max(metrics.consecutiveMisses, silentMisses)
    const what = metrics.lastReplyAt === null ? 'no reply yet' : `no reply for ${round(silenceMs)} ms`
    const beyond = spreadMs >= 1 && silentMisses >= metrics.consecutiveMisses ? ` beyond the ${round(spreadMs)} ms RTT spread` : ''
    // Someone else answering during the silence is the likeliest cause: say who.
    const stray = metrics.lastStray
    const instead = stray !== null && stray.at > (metrics.lastReplyAt ?? -Infinity) ? `; datagrams from ${stray.from} instead, which is not the reflector` : ''
    return verdict('down', `blackout: ${what} (${misses} probes missed${beyond}, limit ${settings.downAfterMisses})${instead}`)
  }
  const wasDown = prev === null || prev.state === 'down'
  if (wasDown && metrics.consecutiveReplies < settings.upAfterReplies) {
    return verdict('down', `recovering: ${metrics.consecutiveReplies}/${settings.upAfterReplies} replies in a row`)
  }
  const brownout = settings.brownout
  if (brownout) {
    const strict = brownoutReasons(metrics, brownout, 1)
    if (strict.length > 0) return verdict('degraded', `brownout: ${strict.join(', ')}`)
    if (prev?.state === 'degraded') {
      const near = brownoutReasons(metrics, brownout, BROWNOUT_RECOVERY_FACTOR)
      if (near.length > 0) return verdict('degraded', `brownout clearing: ${near.join(', ')}`)
    }
  }
  return verdict('up', 'ok')
}

function brownoutReasons(m: PathMetrics, t: BrownoutThresholds, factor: number): string[] {
  const reasons: string[] = []
  const bound = (limit: number): number => limit * factor
  const unit = factor === 1 ? '' : ` (${Math.round(factor * 100)}% of limit)`
  const clearing = factor !== 1
  const rtt = judgedRttMs(m, clearing)
  if (t.latencyMs !== undefined && rtt !== null && rtt > bound(t.latencyMs)) {
    reasons.push(`latency ${round(rtt)} ms > ${round(bound(t.latencyMs))} ms${unit}`)
  }
  const jitter = judgedJitterMs(m, clearing)
  if (t.jitterMs !== undefined && jitter > bound(t.jitterMs)) {
    reasons.push(`jitter ${round(jitter)} ms > ${round(bound(t.jitterMs))} ms${unit}`)
  }
  const loss = judgedLossPct(m, clearing)
  if (t.lossPct !== undefined && loss > bound(t.lossPct)) {
    reasons.push(`loss ${clearing ? '' : 'at least '}${round(loss)}% > ${round(bound(t.lossPct))}%${unit} (${lossFigures(m)})`)
  }
  return reasons
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}
