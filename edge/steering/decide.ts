// decide(policy, health, prev, now): for every application class, the path(s) its new flows take and
// the paths its existing flows may keep, with the reason. Pure: the hysteresis state comes in as `prev`
// and goes out as `state`.
//
// Per class and listed path, a status: down (path health), breached (SLA broken, with hysteresis), ok;
// and since when. From those:
//   failed     down, or the SLA broken outright for brownoutConfirmMs in a row (then failed until the
//              path is ok again, past the recovery hysteresis). A blackout acts at once; a brownout after
//              its confirmation time.
//   settled    ok for at least its failback delay: good enough to return to. Flap damping, in the spirit
//              of RFC 2439's: the delay is failbackDelayMs after the class left the path because it
//              failed, and doubles each time it leaves it again within maxFailbackDelayMs of the last time,
//              up to maxFailbackDelayMs (never below failbackDelayMs). A path that keeps failing must prove
//              itself longer; one quiet spell of maxFailbackDelayMs and it is judged afresh.
// Priority mode: stay on the current path while it has not failed. When it fails, move to the first
// listed path that has settled (else the first that is ok, else the first that has not failed), else
// drop or best-effort. Return to a more preferred path only when it has settled and the hold-down since
// the last switch has passed.
// Weighted mode: every listed path that has not failed, with its weight; a path that left comes back
// only once settled. Keep (sticky classes): every listed path that has not failed.
import type { PathHealth } from '../../probes/health.js'
import { lastMinuteLossPct, type PathMetrics } from '../../probes/metrics/path-metrics.js'
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
  /** Since when the SLA has been broken outright without a break (not merely held by hysteresis); null when it is not. */
  brokenSince: number | null
  /** A breach that lasted brownoutConfirmMs: the path has failed for this class until it is ok again. */
  confirmed: boolean
}

export interface Departures {
  count: number
  lastAt: number
}

export interface ClassTrack {
  active: string[]
  switchedAt: number
  paths: Record<string, PathTrack>
  /** By path: how often in a row the class left it because it failed, each within the damping span of the last. */
  departures: Record<string, Departures>
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
  /**
   * Per path: its status and the figures SLAs are judged on (sla.ts): rttMs and jitterMs over the last ten
   * replies, lossPct over the window and lastMinuteLossPct over the loss horizon.
   */
  paths: Record<string, { status: PathStatus; why: string; rttMs?: number; jitterMs?: number; lossPct?: number; lastMinuteLossPct?: number; mos?: number | null }>
}

export interface SteeringResult {
  decisions: Decision[]
  state: SteeringState
  changes: SteeringChange[]
}

const DOWN: PathObservation = { health: { state: 'down', reason: 'not measured', since: 0 }, metrics: null }

function track(cls: AppClass, obs: PathObservation, prev: PathTrack | undefined, now: number): PathTrack {
  const { status, why, held } = pathStatus(cls.sla, obs.health, obs.metrics, prev?.status === 'breached')
  // A down path's "since" is the health verdict's own, so a blackout detected late is not shortened.
  const since = prev && prev.status === status ? prev.since : status === 'down' ? Math.min(now, obs.health.since || now) : now
  if (status !== 'breached') return { status, since, why, brokenSince: null, confirmed: false }
  // The confirmation needs the SLA broken outright for brownoutConfirmMs in a row: a figure that touched the
  // limit once and then hovers in the recovery band (held) must not be confirmed by the hysteresis alone.
  const brokenSince = held ? null : (prev?.brokenSince ?? now)
  const confirmed = (prev?.status === 'breached' && prev.confirmed) || (brokenSince !== null && now - brokenSince >= cls.failover.brownoutConfirmMs)
  return { status, since, why, brokenSince, confirmed }
}

export function decide(policy: SitePolicy, observations: Observations, prev: SteeringState, now: number): SteeringResult {
  const decisions: Decision[] = []
  const changes: SteeringChange[] = []
  const state: Record<string, ClassTrack> = {}
  for (const cls of policy.classes) {
    const before = prev[cls.name]
    const names = cls.paths.map(pathName)
    const paths: Record<string, PathTrack> = {}
    for (const n of names) paths[n] = track(cls, observations[n] ?? DOWN, before?.paths[n], now)
    const f = cls.failover
    const failed = (n: string): boolean => paths[n]!.status === 'down' || paths[n]!.confirmed
    const maxDelay = Math.max(f.maxFailbackDelayMs, f.failbackDelayMs)
    const departures: Record<string, Departures> = {}
    for (const n of names) if (before?.departures[n]) departures[n] = before.departures[n]
    const failbackDelay = (n: string): number => {
      const count = departures[n]?.count ?? 0
      return count <= 1 ? f.failbackDelayMs : Math.min(maxDelay, f.failbackDelayMs * 2 ** (count - 1))
    }
    const settled = (n: string): boolean => paths[n]!.status === 'ok' && now - paths[n]!.since >= failbackDelay(n)
    const weight = (n: string): number => {
      const ref = cls.paths.find(r => pathName(r) === n)!
      return typeof ref === 'string' ? 1 : (ref.weight ?? 1)
    }

    const view: ClassView = { cls, names, before, paths, failed, settled, failbackDelay, departures, now }
    const { active, reason } = cls.mode === 'weighted' ? chooseWeighted(view) : choosePriority(view)
    const changed = !before || before.active.join(',') !== active.join(',')
    for (const n of before?.active ?? []) {
      if (!names.includes(n) || !failed(n) || active.includes(n)) continue
      const last = departures[n]
      departures[n] = { count: last && now - last.lastAt < maxDelay ? last.count + 1 : 1, lastAt: now }
    }
    state[cls.name] = { active, switchedAt: changed ? now : before.switchedAt, paths, departures }
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
  /** The failback delay path n must meet the SLA for, flap damping included. */
  failbackDelay(n: string): number
  departures: Readonly<Record<string, Departures>>
  now: number
}

/** How a path's failback delay came about, when damping lengthened it; empty otherwise. */
function damping(view: ClassView, n: string): string {
  const count = view.departures[n]?.count ?? 0
  return count <= 1 ? '' : `: failed ${count} times in a row`
}

function choosePriority(view: ClassView): Choice {
  const { cls, names, before, paths, failed, settled, failbackDelay, now } = view
  const current = before?.active[0]
  if (current !== undefined && names.includes(current) && !failed(current)) {
    const preferred = names.slice(0, names.indexOf(current))
    const better = preferred.find(settled)
    const holdDownLeft = before!.switchedAt + cls.failover.holdDownMs - now
    const delay = (n: string): string => `failback delay ${Math.round(failbackDelay(n) / 1000)} s${damping(view, n)}`
    if (better && holdDownLeft <= 0) {
      return { active: [better], reason: `failback to ${better}: met the SLA for ${Math.round((now - paths[better]!.since) / 1000)} s (${delay(better)})` }
    }
    const note = paths[current]!.status === 'breached' ? `; ${paths[current]!.why}, confirming` : ''
    const recovering = preferred.find(n => paths[n]!.status === 'ok')
    const waiting = better
      ? `; ${better} is back, hold-down ${Math.ceil(holdDownLeft / 1000)} s left`
      : recovering
        ? `; ${recovering} meets the SLA, failback in ${Math.ceil((paths[recovering]!.since + failbackDelay(recovering) - now) / 1000)} s (${delay(recovering)})`
        : ''
    return { active: [current], reason: `${current} ${paths[current]!.status === 'ok' ? 'meets the SLA' : 'in use'}${note}${waiting}` }
  }
  const why = current === undefined ? (before ? 'no path was usable' : 'start') : `${current} failed: ${paths[current]?.why ?? 'no longer listed'}`
  // Forced to move: a path that has proven itself for its failback delay first, so a class does not land
  // on a path that only just came back (and is damped for failing again and again) while a steady one is there.
  const next = names.find(settled) ?? names.find(n => paths[n]!.status === 'ok') ?? names.find(n => !failed(n))
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
  const r2 = (x: number): number => Math.round(x * 100) / 100
  const out: SteeringChange['paths'] = {}
  for (const n of names) {
    const m = observations[n]?.metrics
    const lastMinute = m ? lastMinuteLossPct(m) : null
    out[n] = {
      status: paths[n]!.status,
      why: paths[n]!.why,
      ...(m && m.recentRttMs !== null ? { rttMs: r2(m.recentRttMs) } : {}),
      ...(m ? { jitterMs: r2(m.recentJitterMs), lossPct: r2(m.lossPct), mos: m.mos } : {}),
      ...(lastMinute !== null ? { lastMinuteLossPct: r2(lastMinute) } : {}),
    }
  }
  return out
}
