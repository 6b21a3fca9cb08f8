// What the daemon VM scenario (daemon-voip.ts) hands back to the host — a JSON file the guest writes into
// /lab and runInVm `collect`s — and the pure reading of the daemon's decision log it is made from. Both
// sides import this file, so the shape is written down once. Pure: no I/O, no clock.

/** One line of the daemon's decision log (edge/daemon/decision-log.ts), the fields the scenario reads. */
export interface DecisionRecord {
  readonly time: string
  readonly class: string
  readonly from: readonly string[]
  readonly to: readonly string[]
  readonly reason: string
}

/** One impairment of LTE and what followed, timed from the moment the impairment was started. */
export interface MoveTiming {
  /** The daemon logged VoIP's re-steer away from LTE to broadband, and a VoIP packet arrived via broadband. */
  readonly moved: boolean
  /** Impairment → the re-steer's timestamp in the decision log. */
  readonly reSteerMs: number | null
  /** Impairment → the first VoIP datagram at the far side's sink with broadband's source address. */
  readonly firstPacketMs: number | null
  /** The re-steer's reason as the daemon logged it. */
  readonly reason: string | null
  /**
   * How long the impairment's own commands (tc/nft in the provider namespace) took: the figures above
   * count from their start, so they include this share, which under TCG is not negligible.
   */
  readonly applyMs: number | null
}

export interface FailbackTiming {
  /** The daemon logged VoIP's return to LTE, and a new VoIP flow arrived via LTE. */
  readonly failedBack: boolean
  /** Restore → the failback's timestamp in the decision log. */
  readonly afterMs: number | null
  readonly reason: string | null
  /** The flow that moved to broadband was still arriving via broadband after the failback (sticky). */
  readonly movedFlowStayed: boolean
}

export interface GuestTraffic {
  /** Guest datagrams the far side received, and how many came from broadband's address. */
  readonly received: number
  readonly fromBroadband: number
  readonly otherSources: readonly string[]
  /** Packets from the guest bridge the edge forwarded at all, and out of a tunnel device (`sw-*`). */
  readonly forwarded: number
  readonly tunnelled: number
  /** The tunnel devices the edge had while the guest flow ran (none when the lab has no tunnels). */
  readonly tunnelDevices: readonly string[]
}

export interface DaemonScenarioResult {
  /** The timers and impairments the run used, so figures can be read against them. */
  readonly settings: {
    readonly intervalMs: number
    /** The probe interval of the timed trials (the daemon is reloaded with it after the story). */
    readonly trialIntervalMs: number
    /** The RTT the trials' delay brownouts raise LTE to. */
    readonly trialRttMs: number
    readonly brownoutConfirmMs: number
    readonly failbackDelayMs: number
    readonly holdDownMs: number
    readonly jitterMs: number
    readonly lossPct: number
  }
  readonly jitterBrownout: MoveTiming
  readonly failback: FailbackTiming
  readonly lossBurst: MoveTiming
  readonly guest: GuestTraffic
  /** The decision log as the scenario ended (every class). */
  readonly decisions: readonly DecisionRecord[]
  /** Extra jitter brownouts for `npm run bench failover` (none unless asked for). */
  readonly trials: readonly MoveTiming[]
}

export class DaemonResultError extends Error {
  override readonly name = 'DaemonResultError'
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every(s => typeof s === 'string')
}

/** Parses decisions.jsonl; a line that is not a re-steer record is an error (the file is the daemon's own). */
export function parseDecisionLog(text: string): DecisionRecord[] {
  return text
    .split('\n')
    .filter(line => line.trim() !== '')
    .map((line, i) => {
      let r: Partial<Record<keyof DecisionRecord, unknown>>
      try {
        r = JSON.parse(line) as typeof r
      } catch {
        throw new DaemonResultError(`decisions.jsonl line ${i + 1}: not JSON: ${line.slice(0, 80)}`)
      }
      if (typeof r.time !== 'string' || typeof r.class !== 'string' || !isStringArray(r.from) || !isStringArray(r.to) || typeof r.reason !== 'string') {
        throw new DaemonResultError(`decisions.jsonl line ${i + 1}: expected time, class, from[], to[], reason: ${line.slice(0, 120)}`)
      }
      return { time: r.time, class: r.class, from: r.from, to: r.to, reason: r.reason }
    })
}

/** A class's re-steers as "from→to" (paths joined by "+", "dropped" for none), in log order. */
export function classMoves(records: readonly DecisionRecord[], cls: string): string[] {
  const side = (paths: readonly string[]) => (paths.length === 0 ? 'dropped' : paths.join('+'))
  return records.filter(r => r.class === cls).map(r => `${side(r.from)}→${side(r.to)}`)
}

/** The first re-steer of `cls` whose new first path is `to`, logged at or after `afterWallMs`. */
export function firstMoveTo(records: readonly DecisionRecord[], cls: string, to: string, afterWallMs: number): DecisionRecord | undefined {
  return records.find(r => r.class === cls && r.to[0] === to && Date.parse(r.time) >= afterWallMs)
}

/** Nearest-rank percentile (p in 0..100) of the figures that exist; null when none does. */
export function percentile(values: ReadonlyArray<number | null>, p: number): number | null {
  const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

function need(ok: boolean, where: string): void {
  if (!ok) throw new DaemonResultError(`daemon scenario result: ${where}`)
}

const isFigure = (x: unknown): boolean => x === null || (typeof x === 'number' && Number.isFinite(x))

function checkMove(x: unknown, where: string): void {
  const m = x as Partial<Record<keyof MoveTiming, unknown>> | null
  need(typeof m === 'object' && m !== null, `${where} is missing`)
  need(typeof m!.moved === 'boolean', `${where}.moved must be a boolean`)
  need(isFigure(m!.reSteerMs) && isFigure(m!.firstPacketMs) && isFigure(m!.applyMs), `${where}: reSteerMs, firstPacketMs and applyMs must be numbers or null`)
  need(m!.reason === null || typeof m!.reason === 'string', `${where}.reason must be a string or null`)
}

/** Reads the guest's JSON; says which field is wrong rather than letting a bad file pass as figures. */
export function parseDaemonResult(text: string): DaemonScenarioResult {
  let r: Record<string, unknown>
  try {
    r = JSON.parse(text) as Record<string, unknown>
  } catch (error) {
    throw new DaemonResultError(`daemon scenario result is not JSON: ${(error as Error).message}`)
  }
  need(typeof r === 'object' && r !== null, 'not an object')
  const settings = r.settings as Record<string, unknown> | undefined
  for (const key of ['intervalMs', 'trialIntervalMs', 'trialRttMs', 'brownoutConfirmMs', 'failbackDelayMs', 'holdDownMs', 'jitterMs', 'lossPct']) {
    need(typeof settings?.[key] === 'number', `settings.${key} must be a number`)
  }
  checkMove(r.jitterBrownout, 'jitterBrownout')
  checkMove(r.lossBurst, 'lossBurst')
  const f = r.failback as Record<string, unknown> | undefined
  need(typeof f?.failedBack === 'boolean' && isFigure(f.afterMs) && typeof f.movedFlowStayed === 'boolean', 'failback needs failedBack, afterMs, movedFlowStayed')
  const g = r.guest as Record<string, unknown> | undefined
  for (const key of ['received', 'fromBroadband', 'forwarded', 'tunnelled']) need(typeof g?.[key] === 'number', `guest.${key} must be a number`)
  need(isStringArray(g!.otherSources) && isStringArray(g!.tunnelDevices), 'guest.otherSources and guest.tunnelDevices must be string lists')
  need(Array.isArray(r.decisions), 'decisions must be a list')
  need(Array.isArray(r.trials), 'trials must be a list')
  ;(r.trials as unknown[]).forEach((trial, i) => checkMove(trial, `trials[${i}]`))
  return r as unknown as DaemonScenarioResult
}
