// Stopping the daemon with --flush must leave nothing programmed: tunnels going down during the stop
// notify the daemon, and a steering round already under way finishes late — neither may program the
// kernel again after the flush (seen in the namespace test: the nft table and routes came back).
import t from 'tap'
import { EdgeDaemon, type DaemonDeps, type TunnelPort } from '../../../edge/daemon/edge-daemon.js'
import type { DesiredState } from '../../../edge/dataplane/model.js'
import type { KernelEvent } from '../../../edge/dataplane/ports.js'
import { EMPTY_ACTUAL } from '../../../edge/dataplane/ops.js'
import { threeUplinks } from '../../helpers/steering.js'

const policy = threeUplinks(`  - name: pos
    match: [{ segments: [lan] }]
    paths: [a, b]`)

const link = (name: string) => ({ name, index: 1, up: true, carrier: true, mtu: 1500 })

function harness() {
  /** What the reconciler finished programming, in the order it finished. */
  const calls: Array<DesiredState | null> = []
  let releaseSlowSet: (() => void) | undefined
  let slow = false
  let addressed = false
  let kernelListener: (e: KernelEvent) => void = () => undefined
  const listeners: Array<() => void> = []
  const tunnels: TunnelPort = {
    set: async () => undefined,
    state: () => undefined,
    onChange: l => void listeners.push(l),
    // Like the IPsec manager: each tunnel stopping reports itself down.
    stop: async () => listeners.forEach(l => l()),
  }
  const deps: DaemonDeps = {
    now: () => 10_000,
    wallNow: () => 1_700_000_000_000,
    timers: { setInterval: () => 0, clearInterval: () => undefined },
    kernel: {
      facts: async () => ({
        links: ['eth1', 'eth2', 'eth3'].map(link),
        addresses: addressed ? [{ link: 'eth1', family: 4 as const, address: '192.0.2.2/24' }] : [],
        defaultRoutes: [],
      }),
      watch: l => ((kernelListener = l), () => undefined),
    },
    reconciler: {
      set: async want => {
        if (want !== null && slow) await new Promise<void>(r => (releaseSlowSet = r))
        calls.push(want)
        return { ops: [], failed: [], reached: EMPTY_ACTUAL }
      },
    },
    startProbes: () => ({ update: () => undefined, latest: () => undefined, stop: async () => undefined }),
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    tunnels,
  }
  return {
    deps,
    calls,
    notifyTunnels: () => listeners.forEach(l => l()),
    /** eth1 gets an address: a round that re-applies, held inside the reconciler until release(). */
    slowAddressChange: () => {
      slow = true
      addressed = true
      kernelListener({ kind: 'address-changed', link: 'eth1' })
    },
    release: () => {
      slow = false
      releaseSlowSet?.()
    },
  }
}

t.test('a flush stop waits for the round under way and ignores tunnel events after it', async t => {
  const h = harness()
  const daemon = new EdgeDaemon(policy, h.deps)
  await daemon.start()
  t.equal(h.calls.length, 1, 'start programs once')

  // A round under way, held inside the reconciler while the stop begins.
  h.slowAddressChange()
  await new Promise(r => setImmediate(r))
  const stopping = daemon.stop(true)
  await new Promise(r => setImmediate(r))
  h.release()
  await stopping
  await new Promise(r => setImmediate(r))

  t.equal(h.calls.at(-1), null, 'the last thing the reconciler was asked is to remove everything')
  t.equal(h.calls.filter(c => c === null).length, 1, 'one flush')
  await daemon.evaluate()
  h.notifyTunnels()
  await new Promise(r => setImmediate(r))
  t.equal(h.calls.at(-1), null, 'rounds asked for after the stop program nothing')
})
