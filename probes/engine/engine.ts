// The probe engine as the daemon sees it: start it with targets, update them, stop it; it emits per-path
// PathMetrics snapshots ('metrics', then 'snapshots' once per batch) and, if asked, a per-probe event
// stream ('probe'). Sending, receiving and timestamping happen off the main thread, on the native I/O
// thread (native-io.ts); the prober (prober.ts) runs here, once per snapshot interval. Tests inject a
// virtual clock and network instead (ProbeEngineOptions.deps).
import { EventEmitter } from 'node:events'
import { MultiPathProber, type ProberDeps } from './prober.js'
import type { ProbeEvent } from './events.js'
import { realProberDeps } from './native-io.js'
import { validateTargets, type ProbeTarget } from './target.js'
import { DEFAULT_PROBE_SETTINGS } from '../settings.js'
import type { PathMetrics } from '../metrics/path-metrics.js'

export interface ProbeEngineOptions {
  /** Probes per path in the sliding window (policy `probes.windowSize`). */
  readonly windowSize?: number
  /** How often each path's PathMetrics snapshot is emitted, and how often this thread wakes to make them. */
  readonly snapshotIntervalMs?: number
  /** Whether 'probe' events are wanted (default true); the daemon steers on snapshots alone. */
  readonly probeEvents?: boolean
  /** The prober's side effects; default the native I/O thread, the system clock and real timers. */
  readonly deps?: ProberDeps
  /**
   * Nice value for the I/O thread (Linux: per thread), best effort; default PROBE_THREAD_NICENESS, null
   * to leave the priority alone. Only for the default deps.
   */
  readonly niceness?: number | null
}

/** Probes are few and tiny; running them ahead of bulk work keeps their timestamps honest under load. */
export const PROBE_THREAD_NICENESS = -10

interface EngineEvents {
  metrics: [PathMetrics]
  snapshots: [readonly PathMetrics[]]
  probe: [ProbeEvent]
  error: [Error]
}

/**
 * Events: 'metrics' (PathMetrics, every snapshotIntervalMs per path), 'snapshots' (once per batch of
 * them, after their 'metrics' events: every path's at once), 'probe' (ProbeEvent, one per reply,
 * loss, late or duplicate reply, send error or unmatched datagram, delivered once per snapshot interval;
 * none when started with probeEvents false), 'error' (a path whose socket could not be opened, e.g. its
 * local address is gone; the path is dropped until the next update). As with any EventEmitter, an
 * 'error' with no listener throws, so the daemon must listen for it.
 */
export class ProbeEngine extends EventEmitter<EngineEvents> {
  readonly #prober: MultiPathProber
  readonly #release: () => void
  readonly #latest = new Map<string, PathMetrics>()
  #stopped: Promise<void> | null = null

  private constructor(deps: ProberDeps, release: () => void, options: { windowSize: number; snapshotIntervalMs: number; probeEvents: boolean }) {
    super()
    this.#release = release
    this.#prober = new MultiPathProber(deps, {
      windowSize: options.windowSize,
      snapshotIntervalMs: options.snapshotIntervalMs,
      onEvent: options.probeEvents ? event => this.emit('probe', event) : () => undefined,
      onSnapshot: metrics => this.#publish(metrics),
      onError: (pathId, err) => this.emit('error', pathId === null ? err : new Error(`path ${pathId}: ${err.message}`)),
    })
  }

  static start(targets: readonly ProbeTarget[], options: ProbeEngineOptions = {}): ProbeEngine {
    validateTargets(targets)
    const real = options.deps ? null : realProberDeps(options.niceness === undefined ? PROBE_THREAD_NICENESS : options.niceness)
    const engine = new ProbeEngine(options.deps ?? real!, () => real?.stop(), {
      windowSize: options.windowSize ?? DEFAULT_PROBE_SETTINGS.windowSize,
      snapshotIntervalMs: options.snapshotIntervalMs ?? DEFAULT_PROBE_SETTINGS.intervalMs,
      probeEvents: options.probeEvents ?? true,
    })
    // Paths whose socket cannot be opened are reported as 'error' events; let the caller attach its
    // listener first.
    queueMicrotask(() => engine.update(targets))
    return engine
  }

  /** Replaces the targets; paths whose session is unchanged keep their window. */
  update(targets: readonly ProbeTarget[]): void {
    validateTargets(targets)
    if (this.#stopped) return
    for (const pathId of this.#latest.keys()) if (!targets.some(t => t.pathId === pathId)) this.#latest.delete(pathId)
    this.#prober.update(targets).catch((err: unknown) => this.emit('error', err instanceof Error ? err : new Error(String(err))))
  }

  /** The most recent snapshot of a path. */
  latest(pathId: string): PathMetrics | undefined {
    return this.#latest.get(pathId)
  }

  /** Stops probing; resolves after the final snapshots have been emitted and the I/O thread has ended. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      // Final snapshot first, so a short run (the one-shot `probe` command) sees its last probes settled.
      const final = this.#prober.snapshot()
      if (final.length > 0) this.#publish(final)
      this.#prober.stop()
      this.#release()
    })()
    return this.#stopped
  }

  #publish(metrics: readonly PathMetrics[]): void {
    for (const m of metrics) {
      this.#latest.set(m.pathId, m)
      this.emit('metrics', m)
    }
    this.emit('snapshots', metrics)
  }
}
