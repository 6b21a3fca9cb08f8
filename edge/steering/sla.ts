// Does a path meet a class's SLA right now? Pure. Hysteresis: a path that broke the SLA counts as
// breaking it until every figure is back under 90 % of its limit (the same recovery factor path health
// uses for brownouts), so a path whose windowed figures hover at a threshold does not toggle.
// RTT and jitter are judged on their recent figures (the last ten replies) so a delay or jitter brownout
// is seen within about a second; clearing needs the longer figures under the bound too (judgedRttMs,
// judgedJitterMs). Loss is judged with confidence over the window and the last minute (judgedLossPct).
import { BROWNOUT_RECOVERY_FACTOR, type PathHealth } from '../../probes/health.js'
import { judgedJitterMs, judgedLossPct, judgedRttMs, lossFigures, type PathMetrics } from '../../probes/metrics/path-metrics.js'
import type { Sla } from '../config/policy.js'

const fmt = (x: number): string => String(Math.round(x * 10) / 10)

/** Why `metrics` break `sla` at `factor` × each limit; empty when they meet it. */
export function slaBreaches(sla: Sla, m: PathMetrics | null, factor = 1): string[] {
  if (!m) return []
  const out: string[] = []
  const clearing = factor !== 1
  const rtt = judgedRttMs(m, clearing)
  if (sla.maxLatencyMs !== undefined && rtt !== null && rtt > sla.maxLatencyMs * factor) {
    out.push(`rtt ${fmt(rtt)} ms > ${fmt(sla.maxLatencyMs * factor)} ms`)
  }
  const jitter = judgedJitterMs(m, clearing)
  if (sla.maxJitterMs !== undefined && jitter > sla.maxJitterMs * factor) {
    out.push(`jitter ${fmt(jitter)} ms > ${fmt(sla.maxJitterMs * factor)} ms`)
  }
  const loss = judgedLossPct(m, clearing)
  if (sla.maxLossPct !== undefined && loss > sla.maxLossPct * factor) {
    out.push(`loss ${clearing ? '' : 'at least '}${fmt(loss)} % > ${fmt(sla.maxLossPct * factor)} % (${lossFigures(m)})`)
  }
  // MOS is better when higher: the recovery bound sits above the minimum by the same margin.
  if (sla.minMos !== undefined && m.mos !== null && m.mos < Math.min(4.5, sla.minMos / factor)) {
    out.push(`MOS ${m.mos.toFixed(2)} < ${(Math.min(4.5, sla.minMos / factor)).toFixed(2)}`)
  }
  return out
}

export type PathStatus = 'ok' | 'breached' | 'down'

/**
 * The status of one path for one class: down (health says so), breached (SLA broken, or the path is
 * degraded and the class has an SLA), or ok. `wasBreached` applies the recovery hysteresis; `held` marks
 * a breach only the hysteresis holds (the figures are back under the SLA but not yet under 90 % of it).
 */
export function pathStatus(
  sla: Sla | undefined,
  health: PathHealth,
  metrics: PathMetrics | null,
  wasBreached: boolean,
): { status: PathStatus; why: string; held?: true } {
  if (health.state === 'down') return { status: 'down', why: health.reason }
  if (!sla) return { status: 'ok', why: health.state === 'degraded' ? `${health.reason} (class has no SLA)` : 'up' }
  const strict = slaBreaches(sla, metrics)
  if (strict.length > 0) return { status: 'breached', why: strict.join(', ') }
  if (health.state === 'degraded') return { status: 'breached', why: health.reason }
  if (wasBreached) {
    const near = slaBreaches(sla, metrics, BROWNOUT_RECOVERY_FACTOR)
    if (near.length > 0) return { status: 'breached', why: `recovering: ${near.join(', ')}`, held: true }
  }
  return { status: 'ok', why: 'meets SLA' }
}
