// decide(policy, health, prev, now): for every application class, the path(s) its new flows take and
// the paths its existing flows may keep, with the reason. Pure: the hysteresis state comes in as `prev`
// and goes out as `state`.
//
// Per class and listed path, a status: down (path health), breached (SLA broken, with hysteresis), ok;
// and since when. From those:
//   failed     down, or breached for at least brownoutConfirmMs. A blackout acts at once; a brownout
//              after its confirmation time.
//   settled    ok for at least failbackDelayMs: good enough to return to.
// Priority mode: stay on the current path while it has not failed. When it fails, move to the first
// listed path that is ok (else the first that has not failed), else drop or best-effort. Return to a
// more preferred path only when it has settled and the hold-down since the last switch has passed.
// Weighted mode: every listed path that has not failed, with its weight; a path that left comes back
// only once settled. Keep (sticky classes): every listed path that has not failed.
import type { PathHealth } from '../../probes/health.js'
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'
import { pathName, type AppClass, type SitePolicy } from '../config/policy.js'
import type { Decision } from '../dataplane/model.js'
import { pathStatus, type PathStatus } from './sla.js'

export interface PathObservation {
  health: PathHealth
  metrics: PathMetrics | null
}
/** What is known about each path, by path name (uplink or tunnel). A path not listed is down. */
export type Observations = Readonly<Record<string, PathObservation>>

export interface PathTrack {
  status: PathStatus
  since: number
  why: string
}

export interface ClassTrack {
  active: string[]
  switchedAt: number
  paths: Record<string, PathTrack>
}

/** The steering engine's memory between evaluations, by class name. */
export type SteeringState = Readonly<Record<string, ClassTrack>>

/** One re-steer, for the decision log: before, after, why, and the figures that triggered it. */
export interface SteeringChange {
  class: string
  at: number
  from: string[]
  to: string[]
  reason: string
  /** Per path: its status and the figures SLAs are judged on (jitterMs: the recent jitter, sla.ts). */
  paths: Record<string, { status: PathStatus; why: string; rttMs?: number; jitterMs?: number; lossPct?: number; mos?: number | null }>
}

export interface SteeringResult {
  decisions: Decision[]
  state: SteeringState
  changes: SteeringChange[]
}

const DOWN: PathObservation = { health: { state: 'down', reason: 'not measured', since: 0 }, metrics: null }

function track(cls: AppClass, name: string, obs: PathObservation, prev: PathTrack | undefined, now: number): PathTrack {
  const { status, why } = pathStatus(cls.sla, obs.health, obs.metrics, prev?.status === 'breached')
  // A down path's "since" is the health verdict's own, so a blackout detected late is not shortened.
  const since = prev && prev.status === status ? prev.since : status === 'down' ? Math.min(now, obs.health.since || now) : now
  return { status, since, why }
}

export function decide(policy: SitePolicy, observations: Observations, prev: SteeringState, now: number): SteeringResult {
  const decisions: Decision[] = []
  const changes: SteeringChange[] = []
  const state: Record<string, ClassTrack> = {}
  for (const cls of policy.classes) {
    const before = prev[cls.name]
    const names = cls.paths.map(pathName)
    const paths: Record<string, PathTrack> = {}
    for (const n of names) paths[n] = track(cls, n, observations[n] ?? DOWN, before?.paths[n], now)
    const f = cls.failover
    const failed = (n: string): boolean =>
      paths[n]!.status === 'down' || (paths[n]!.status === 'breached' && now - paths[n]!.since >= f.brownoutConfirmMs)
    const settled = (n: string): boolean => paths[n]!.status === 'ok' && now - paths[n]!.since >= f.failbackDelayMs
    const weight = (n: string): number => {
      const ref = cls.paths.find(r => pathName(r) === n)!
      return typeof ref === 'string' ? 1 : (ref.weight ?? 1)
    }

    const view: ClassView = { cls, names, before, paths, failed, settled, now }
    const { active, reason } = cls.mode === 'weighted' ? chooseWeighted(view) : choosePriority(view)
    const changed = !before || before.active.join(',') !== active.join(',')
    state[cls.name] = { active, switchedAt: changed ? now : before.switchedAt, paths }
    decisions.push({
      class: cls.name,
      active: active.map(n => ({ path: n, weight: weight(n) })),
      keep: f.sticky ? names.filter(n => !failed(n)) : [],
      reason,
    })
    if (changed && before) {
      changes.push({ class: cls.name, at: now, from: before.active, to: active, reason, paths: figures(names, paths, observations) })
    }
  }
  return { decisions, state, changes }
}

type Choice = { active: string[]; reason: string }

/** One class as this round sees it: its listed paths' tracks and the two judgements made of them. */
interface ClassView {
  cls: AppClass
  names: string[]
  before: ClassTrack | undefined
  paths: Record<string, PathTrack>
  failed(n: string): boolean
  settled(n: string): boolean
  now: number
}

function choosePriority({ cls, names, before, paths, failed, settled, now }: ClassView): Choice {
  const current = before?.active[0]
  if (current !== undefined && names.includes(current) && !failed(current)) {
    const better = names.slice(0, names.indexOf(current)).find(settled)
    const holdDownLeft = before!.switchedAt + cls.failover.holdDownMs - now
    if (better && holdDownLeft <= 0) {
      return { active: [better], reason: `failback to ${better}: met the SLA for ${Math.round((now - paths[better]!.since) / 1000)} s` }
    }
    const note = paths[current]!.status === 'breached' ? `; ${paths[current]!.why}, confirming` : ''
    const waiting = better ? `; ${better} is back, hold-down ${Math.ceil(holdDownLeft / 1000)} s left` : ''
    return { active: [current], reason: `${current} ${paths[current]!.status === 'ok' ? 'meets the SLA' : 'in use'}${note}${waiting}` }
  }
  const why = current === undefined ? (before ? 'no path was usable' : 'start') : `${current} failed: ${paths[current]?.why ?? 'no longer listed'}`
  const next = names.find(n => paths[n]!.status === 'ok') ?? names.find(n => !failed(n))
  if (next) return { active: [next], reason: `${why} → ${next}` }
  if (cls.whenNoPath === 'best-effort') {
    const alive = names.find(n => paths[n]!.status !== 'down')
    if (alive) return { active: [alive], reason: `${why}; no path meets the SLA, best effort on ${alive} (${paths[alive]!.why})` }
  }
  return { active: [], reason: `${why}; no usable path: dropped (fail closed)` }
}

function chooseWeighted({ cls, names, before, paths, failed, settled }: ClassView): Choice {
  const was = new Set(before?.active ?? names)
  const active = names.filter(n => !failed(n) && (was.has(n) || settled(n)))
  const left = names.filter(n => !active.includes(n)).map(n => `${n} (${paths[n]!.why})`)
  if (active.length > 0) return { active, reason: `spread over ${active.join(', ')}${left.length ? `; out: ${left.join(', ')}` : ''}` }
  if (cls.whenNoPath === 'best-effort') {
    const alive = names.filter(n => paths[n]!.status !== 'down')
    if (alive.length > 0) return { active: alive, reason: `no path meets the SLA, best effort over ${alive.join(', ')}` }
  }
  return { active: [], reason: `no usable path (${left.join(', ')}): dropped (fail closed)` }
}

function figures(names: string[], paths: Record<string, PathTrack>, observations: Observations): SteeringChange['paths'] {
  const out: SteeringChange['paths'] = {}
  for (const n of names) {
    const m = observations[n]?.metrics
    out[n] = {
      status: paths[n]!.status,
      why: paths[n]!.why,
      ...(m?.rtt ? { rttMs: Math.round(m.rtt.avgMs * 100) / 100 } : {}),
      ...(m ? { jitterMs: Math.round(m.recentJitterMs * 100) / 100, lossPct: Math.round(m.lossPct * 100) / 100, mos: m.mos } : {}),
    }
  }
  return out
}
