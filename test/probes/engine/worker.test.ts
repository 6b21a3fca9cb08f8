// The real engine: the prober in a worker thread with real UDP sockets on loopback, against the real
// `sdwan-edge reflect` in its own process. Shows that sending and timestamping go on while the main
// thread is blocked (the reason the engine lives off the main event loop).
import t from 'tap'
import { ProbeEngine } from '../../../probes/engine/engine.js'
import type { ProbeEvent } from '../../../probes/engine/protocol.js'
import { monotonicMs } from '../../../probes/clock.js'
import { freeUdpPort, startReflectorProcess } from '../helpers/reflector-process.js'

t.test('worker-thread engine against a reflector process; main thread blocked meanwhile', async t => {
  const port = await freeUdpPort()
  const reflector = await startReflectorProcess(['--address', '127.0.0.1', '--port', String(port)])
  t.teardown(() => reflector.stop())
  const engine = ProbeEngine.start(
    [{ pathId: 'lo', localAddress: '127.0.0.1', remoteAddress: '127.0.0.1', port, intervalMs: 10, timeoutMs: 10_000 }],
    { windowSize: 500, snapshotIntervalMs: 50 },
  )
  t.teardown(() => engine.stop())
  const events: ProbeEvent[] = []
  engine.on('probe', e => events.push(e))
  const replies = (): number => events.filter(e => e.kind === 'reply').length
  while (replies() < 5) await new Promise(resolve => setTimeout(resolve, 20))

  // Block the main thread. If probing ran here, no probe could be sent or answered in this interval.
  const blockStart = monotonicMs()
  while (monotonicMs() - blockStart < 400) {
    // busy: stands in for a long policy compile or a netlink dump on the daemon's main thread
  }
  const blockEnd = monotonicMs()
  const before = replies()
  while (replies() < before + 5) await new Promise(resolve => setTimeout(resolve, 20))

  // Event times are taken in the worker on the shared monotonic clock, so they can be compared with the
  // main thread's block interval.
  const during = events.filter(e => e.kind === 'reply' && e.at > blockStart && e.at < blockEnd)
  t.ok(during.length > 0, `${during.length} replies were received by the worker while the main thread was blocked`)
  const snapshot = engine.latest('lo')
  t.ok(snapshot && snapshot.received > 0 && snapshot.rtt !== null, 'periodic PathMetrics arrive on the main thread')
  await engine.stop()
  const out = await reflector.stop()
  t.equal(out.code, 0, 'the reflector exits 0 on SIGTERM')
  t.match(out.stdout, /reflector stopped: \{"received":\d+,"replied":\d+/, 'and prints its counters')
})
