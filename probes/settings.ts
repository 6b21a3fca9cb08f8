// The probe settings, named exactly as the site policy's `probes` section names them (the policy schema
// is written elsewhere; these names and defaults are the contract). Defaults apply to absent fields.
import { STAMP_PORT } from './stamp/packet.js'

export interface BrownoutThresholds {
  /** Windowed average RTT above this → degraded. */
  readonly latencyMs?: number
  /** Recent jitter (PathMetrics.recentJitterMs) above this → degraded; see judgedJitterMs. */
  readonly jitterMs?: number
  /** Windowed loss above this percentage → degraded. */
  readonly lossPct?: number
}

export interface ProbeSettings {
  readonly port: number
  readonly intervalMs: number
  /** A reply later than this is 'late' and counts as lost for the window. */
  readonly timeoutMs: number
  /** Probes in the sliding window. */
  readonly windowSize: number
  /** Consecutive missing replies → down (blackout), at once. */
  readonly downAfterMisses: number
  /** Consecutive replies needed to come back up. */
  readonly upAfterReplies: number
  readonly brownout?: BrownoutThresholds
}

export const DEFAULT_PROBE_SETTINGS: ProbeSettings = {
  port: STAMP_PORT,
  intervalMs: 100,
  timeoutMs: 1000,
  windowSize: 100,
  downAfterMisses: 3,
  upAfterReplies: 5,
}

export function withProbeDefaults(partial: Partial<ProbeSettings> = {}): ProbeSettings {
  const merged = { ...DEFAULT_PROBE_SETTINGS }
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v
  return merged
}
