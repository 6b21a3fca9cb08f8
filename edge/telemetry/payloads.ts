// The JSON payloads the edge publishes, as types and pure builders. policies/schema/telemetry/*.json
// describe the same shapes for the orchestrator; test/edge/telemetry/payload-schemas.test.ts holds the
// two together. Every spooled payload carries `boot` + `seq` so an orchestrator can drop the duplicates
// that at-least-once delivery (QoS 1, MQTT 5 §4.3.2, and spool replay after a crash) may produce.
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'
import type { PathHealth } from '../../probes/health.js'
import type { Decision } from '../dataplane/model.js'

export const PAYLOAD_VERSION = 1

/** Stamped on each spooled record: wall time, this process's boot id and its record number. */
export interface RecordStamp {
  readonly ts: string
  readonly boot: string
  readonly seq: number
}

export interface StatePayload {
  readonly v: 1
  readonly ts: string
  readonly boot: string
  readonly online: boolean
  readonly reason: 'birth' | 'connection-lost' | 'shutdown'
  readonly firmware: string
  readonly serial: number | null
}

export interface MetricsPayload extends RecordStamp {
  readonly v: 1
  readonly path: string
  readonly state: PathHealth['state']
  readonly reason: string
  readonly settled: number
  readonly received: number
  readonly lost: number
  readonly lossPct: number
  readonly rtt: { minMs: number; avgMs: number; maxMs: number; p50Ms: number; p95Ms: number; p99Ms: number } | null
  readonly jitterMs: number
  readonly mos: number | null
}

export type EventSeverity = 'info' | 'warning' | 'error'

export interface EventPayload extends RecordStamp {
  readonly v: 1
  /** Dotted, stable name an orchestrator can filter on, e.g. 'path.down', 'telemetry.spool-overflow'. */
  readonly type: string
  readonly severity: EventSeverity
  readonly message: string
  readonly data?: Record<string, unknown>
}

export interface DecisionsPayload extends RecordStamp {
  readonly v: 1
  readonly decisions: ReadonlyArray<{ class: string; active: Array<{ path: string; weight: number }>; keep: string[]; reason: string }>
}

export interface InventoryPayload {
  readonly v: 1
  readonly ts: string
  readonly firmware: string
  readonly system: { manufacturer: string; model: string; serial: string }
  readonly cpu: { brand: string; cores: number; physicalCores: number; speedGHz: number }
  readonly memory: { totalBytes: number }
  readonly os: { platform: string; distro: string; release: string; kernel: string; arch: string }
  readonly interfaces: ReadonlyArray<{ name: string; mac: string; operstate: string; speedMbps: number | null; ipv4: string[]; ipv6: string[] }>
}

// Three decimals of a millisecond (1 µs) is below the probes' clock resolution; more digits are noise
// that costs bytes on metered uplinks.
const round3 = (x: number): number => Math.round(x * 1000) / 1000

export function metricsPayload(stamp: RecordStamp, metrics: PathMetrics, health: PathHealth): MetricsPayload {
  const r = metrics.rtt
  return {
    v: PAYLOAD_VERSION,
    ...stamp,
    path: metrics.pathId,
    state: health.state,
    reason: health.reason,
    settled: metrics.settled,
    received: metrics.received,
    lost: metrics.lost,
    lossPct: round3(metrics.lossPct),
    rtt: r && { minMs: round3(r.minMs), avgMs: round3(r.avgMs), maxMs: round3(r.maxMs), p50Ms: round3(r.p50Ms), p95Ms: round3(r.p95Ms), p99Ms: round3(r.p99Ms) },
    jitterMs: round3(metrics.jitterMs),
    mos: metrics.mos === null ? null : round3(metrics.mos),
  }
}

export interface EventInput {
  readonly type: string
  readonly severity: EventSeverity
  readonly message: string
  readonly data?: Record<string, unknown>
}

export const eventPayload = (stamp: RecordStamp, e: EventInput): EventPayload => ({ v: PAYLOAD_VERSION, ...stamp, ...e })

export const decisionsPayload = (stamp: RecordStamp, decisions: readonly Decision[]): DecisionsPayload => ({
  v: PAYLOAD_VERSION,
  ...stamp,
  decisions: decisions.map(d => ({ class: d.class, active: d.active.map(a => ({ path: a.path, weight: a.weight })), keep: [...d.keep], reason: d.reason })),
})
