// The periodic metrics report: every reportIntervalS, one metrics record per path from the daemon's
// latest snapshot. A path without metrics yet (probing just started) is skipped rather than reported as
// zeros, which an orchestrator would read as a dead path.
import type { PathHealth } from '../../probes/health.js'
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'

export interface PathReport {
  readonly metrics: PathMetrics | undefined
  readonly health: PathHealth
}

export interface IntervalTimers {
  setInterval(callback: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

export interface MetricsReporterOptions {
  readonly report: (metrics: PathMetrics, health: PathHealth) => Promise<void>
  /** The latest metrics and health of every path. */
  readonly snapshot: () => readonly PathReport[]
  readonly timers: IntervalTimers
  readonly onError?: (error: Error) => void
}

export class MetricsReporter {
  private handle: unknown
  private intervalS: number | undefined

  constructor(private readonly options: MetricsReporterOptions) {}

  /** Starts reporting, or moves to a new interval (a new policy); the same interval changes nothing. */
  every(intervalS: number): void {
    if (intervalS === this.intervalS && this.handle !== undefined) return
    this.stop()
    this.intervalS = intervalS
    this.handle = this.options.timers.setInterval(() => void this.reportNow(), intervalS * 1000)
  }

  /** One report of every path, now (also the `probe-now` command's way to show fresh figures). */
  async reportNow(): Promise<number> {
    let reported = 0
    for (const { metrics, health } of this.options.snapshot()) {
      if (!metrics) continue
      try {
        await this.options.report(metrics, health)
        reported++
      } catch (error) {
        this.options.onError?.(error as Error)
      }
    }
    return reported
  }

  stop(): void {
    if (this.handle === undefined) return
    this.options.timers.clearInterval(this.handle)
    this.handle = undefined
  }
}
