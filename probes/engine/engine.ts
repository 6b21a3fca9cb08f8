// The probe engine as the daemon sees it, on the main thread: start it with targets, update them, stop
// it; it emits per-path PathMetrics snapshots ('metrics') and a per-probe event stream ('probe'). The
// probing itself runs in a worker thread (worker.ts) — or, for tests, in this thread with injected
// clock/sockets/timers (inlineTransport) — behind the same message protocol.
import { EventEmitter } from 'node:events'
import { Worker } from 'node:worker_threads'
import { MultiPathProber, type ProberDeps } from './prober.js'
import { fromWire, toWire, type FromWorker, type ProbeEvent, type ToWorker, type WorkerInit } from './protocol.js'
import { validateTargets, type ProbeTarget } from './target.js'
import { DEFAULT_PROBE_SETTINGS } from '../settings.js'
import type { PathMetrics } from '../metrics/path-metrics.js'

export interface ProbeTransport {
  post(msg: ToWorker): void
  onMessage(handler: (msg: FromWorker) => void): void
  onFailure(handler: (err: Error) => void): void
  terminate(): Promise<void>
}
export type TransportFactory = (init: WorkerInit) => ProbeTransport

export interface ProbeEngineOptions {
  /** Probes per path in the sliding window (policy `probes.windowSize`). */
  readonly windowSize?: number
  /** How often each path's PathMetrics snapshot is emitted. */
  readonly snapshotIntervalMs?: number
  /**
   * Whether 'probe' events are wanted (default true). The daemon steers on snapshots alone, and each
   * event crossing from the worker is a structured clone and a wake-up of the main thread.
   */
  readonly probeEvents?: boolean
  /** Where the prober runs; default a worker thread. */
  readonly transport?: TransportFactory
  /**
   * Nice value for the probe worker thread (Linux: per thread), best effort; default
   * PROBE_THREAD_NICENESS, null to leave the priority alone.
   */
  readonly niceness?: number | null
}

/** Probes are few and tiny; running them ahead of bulk work keeps their timestamps honest under load. */
export const PROBE_THREAD_NICENESS = -10

/**
 * The probe worker's V8 young generation, in MB. By default V8 lets it grow to 16 MB semi-spaces, which
 * a prober allocating a few hundred small objects per probe sweeps through and keeps resident; 2 MB
 * keeps the isolate's heap at ~12 MB instead of 16–26 MB (measured on the lab branch, 5 paths × 20/s)
 * for a few more scavenges of a nearly empty nursery. The old generation is left unbounded: hitting a
 * limit would terminate the worker, and with it every probe.
 */
const PROBE_WORKER_YOUNG_GENERATION_MB = 2

/** Runs the prober in a worker thread. Under tsx (tests, `npm run lab`) the worker is the .ts source. */
export const workerTransport: TransportFactory = init => {
  const self = new URL(import.meta.url)
  const options = { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: PROBE_WORKER_YOUNG_GENERATION_MB } }
  const worker = self.pathname.endsWith('.ts')
    ? // Loader hooks registered by `--import tsx` do not carry into worker threads on Node 20, so a source
      // (.ts) worker registers tsx itself before importing the worker module.
      new Worker(
        new URL(
          'data:text/javascript,' +
            encodeURIComponent(
              `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); ` +
                `await import(${JSON.stringify(new URL('./worker.ts', self).href)})`,
            ),
        ),
        options,
      )
    : new Worker(new URL('./worker.js', self), options)
  return {
    post: msg => worker.postMessage(msg),
    onMessage: handler => worker.on('message', handler),
    onFailure: handler => worker.on('error', handler),
    terminate: async () => {
      await worker.terminate()
    },
  }
}

/** Runs the prober in this thread with the given side effects (unit tests, fake clocks). */
export function inlineTransport(deps: ProberDeps): TransportFactory {
  return init => {
    let deliver: (msg: FromWorker) => void = () => undefined
    const post = (msg: FromWorker): void => queueMicrotask(() => deliver(msg))
    const prober = new MultiPathProber(deps, {
      windowSize: init.windowSize,
      snapshotIntervalMs: init.snapshotIntervalMs,
      onEvent: init.probeEvents ? event => post({ type: 'probe', event }) : () => undefined,
      onSnapshot: metrics => post({ type: 'metrics', metrics }),
      onError: (pathId, err) => post({ type: 'error', pathId, message: err.message }),
    })
    return {
      post: msg => {
        if (msg.type === 'update') {
          prober.update(msg.targets.map(fromWire)).catch((err: unknown) => post({ type: 'error', pathId: null, message: String(err) }))
        } else {
          post({ type: 'metrics', metrics: prober.snapshot() })
          prober.stop()
          post({ type: 'stopped' })
        }
      },
      onMessage: handler => {
        deliver = handler
      },
      onFailure: () => undefined,
      terminate: async () => prober.stop(),
    }
  }
}

interface EngineEvents {
  metrics: [PathMetrics]
  snapshots: [readonly PathMetrics[]]
  probe: [ProbeEvent]
  error: [Error]
}

/**
 * Events: 'metrics' (PathMetrics, every snapshotIntervalMs per path), 'snapshots' (once per batch of
 * them, after their 'metrics' events: every path's at once), 'probe' (ProbeEvent, one per reply,
 * loss, late or duplicate reply, send error or stray datagram; none when started with probeEvents
 * false), 'error' (a path whose socket could not be
 * opened, e.g. its local address is gone; the path is dropped until the next update). As with any
 * EventEmitter, an 'error' with no listener throws, so the daemon must listen for it.
 */
export class ProbeEngine extends EventEmitter<EngineEvents> {
  readonly #transport: ProbeTransport
  readonly #latest = new Map<string, PathMetrics>()
  #stopped: Promise<void> | null = null
  #onStopped: () => void = () => undefined

  private constructor(transport: ProbeTransport) {
    super()
    this.#transport = transport
    transport.onMessage(msg => this.#receive(msg))
    transport.onFailure(err => this.emit('error', err))
  }

  static start(targets: readonly ProbeTarget[], options: ProbeEngineOptions = {}): ProbeEngine {
    validateTargets(targets)
    const init: WorkerInit = {
      windowSize: options.windowSize ?? DEFAULT_PROBE_SETTINGS.windowSize,
      snapshotIntervalMs: options.snapshotIntervalMs ?? DEFAULT_PROBE_SETTINGS.intervalMs,
      probeEvents: options.probeEvents ?? true,
      niceness: options.niceness === undefined ? PROBE_THREAD_NICENESS : options.niceness,
    }
    const engine = new ProbeEngine((options.transport ?? workerTransport)(init))
    engine.update(targets)
    return engine
  }

  /** Replaces the targets; paths whose session is unchanged keep their window. */
  update(targets: readonly ProbeTarget[]): void {
    validateTargets(targets)
    for (const pathId of this.#latest.keys()) if (!targets.some(t => t.pathId === pathId)) this.#latest.delete(pathId)
    this.#transport.post({ type: 'update', targets: targets.map(toWire) })
  }

  /** The most recent snapshot of a path. */
  latest(pathId: string): PathMetrics | undefined {
    return this.#latest.get(pathId)
  }

  /** Stops probing; resolves after the final snapshots have been emitted and the worker has exited. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>(resolve => {
      const timer = setTimeout(() => this.#onStopped(), 2000)
      this.#onStopped = () => {
        clearTimeout(timer)
        this.#transport.terminate().then(resolve, resolve)
      }
      this.#transport.post({ type: 'stop' })
    })
    return this.#stopped
  }

  #receive(msg: FromWorker): void {
    switch (msg.type) {
      case 'probe':
        this.emit('probe', msg.event)
        break
      case 'metrics':
        for (const metrics of msg.metrics) {
          this.#latest.set(metrics.pathId, metrics)
          this.emit('metrics', metrics)
        }
        this.emit('snapshots', msg.metrics)
        break
      case 'error':
        this.emit('error', new Error(msg.pathId === null ? msg.message : `path ${msg.pathId}: ${msg.message}`))
        break
      case 'stopped':
        this.#onStopped()
        break
    }
  }
}
