// The probe worker thread: runs the MultiPathProber with real sockets, away from the daemon's main event
// loop, so main-thread work (policy compiles, netlink dumps, MQTT) cannot delay sends or the reading of
// replies, and so cannot skew T1/T4. Talks to engine.ts through protocol.ts messages.
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { MultiPathProber } from './prober.js'
import { realProberDeps } from './udp.js'
import { fromWire, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js'

if (!parentPort) throw new Error('probes/engine/worker.ts must run as a worker thread (ProbeEngine starts it)')
const port = parentPort
const init = workerData as WorkerInit
const post = (msg: FromWorker): void => port.postMessage(msg)

// On Linux the nice value is per thread (setpriority(2), NOTES), so this raises only the probe thread:
// under CPU contention a runnable prober then gets the CPU first, which keeps wake-up delay (part of
// every user-space T4) small. Best effort: without CAP_SYS_NICE it stays at the default.
if (init.niceness !== null) {
  try {
    setPriority(0, init.niceness)
  } catch {
    // Not permitted: measure at normal priority.
  }
}

const prober = new MultiPathProber(realProberDeps(), {
  windowSize: init.windowSize,
  snapshotIntervalMs: init.snapshotIntervalMs,
  onEvent: init.probeEvents ? event => post({ type: 'probe', event }) : () => undefined,
  onSnapshot: metrics => post({ type: 'metrics', metrics }),
  onError: (pathId, err) => post({ type: 'error', pathId, message: err.message }),
})

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'update') {
    prober.update(msg.targets.map(fromWire)).catch((err: unknown) => post({ type: 'error', pathId: null, message: String(err) }))
  } else {
    // Final snapshot first, so a short run (the one-shot `probe` command) sees its last probes settled.
    post({ type: 'metrics', metrics: prober.snapshot() })
    prober.stop()
    post({ type: 'stopped' })
    port.close()
  }
})
