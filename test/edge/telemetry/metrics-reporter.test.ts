// The periodic metrics report: every path with metrics once per interval, paths without metrics yet
// skipped, interval changes, stop.
import t from 'tap'
import { MetricsReporter, type IntervalTimers } from '../../../edge/telemetry/metrics-reporter.js'
import { samplePathMetrics } from './helpers/edge.js'

class HandIntervals implements IntervalTimers {
  readonly running = new Map<number, { callback: () => void; ms: number }>()
  private next = 1
  setInterval(callback: () => void, ms: number): unknown {
    const id = this.next++
    this.running.set(id, { callback, ms })
    return id
  }
  clearInterval(handle: unknown): void {
    this.running.delete(handle as number)
  }
  tick(): void {
    for (const { callback } of this.running.values()) callback()
  }
}

t.test('reports every path with metrics once per interval', async t => {
  const timers = new HandIntervals()
  const reported: string[] = []
  const fibre = samplePathMetrics('fibre', 1)
  const lte = samplePathMetrics('lte', 1)
  const reporter = new MetricsReporter({
    report: async metrics => void reported.push(metrics.pathId),
    snapshot: () => [fibre, { metrics: undefined, health: { state: 'up', reason: 'warming up', since: 0 } }, lte],
    timers,
  })
  reporter.every(10)
  t.same([...timers.running.values()].map(r => r.ms), [10_000])
  timers.tick()
  await new Promise(r => setImmediate(r))
  t.same(reported, ['fibre', 'lte'], 'the path without metrics yet is skipped')
  reporter.every(10)
  t.equal(timers.running.size, 1, 'the same interval keeps the timer')
  reporter.every(30)
  t.same([...timers.running.values()].map(r => r.ms), [30_000], 'a new interval replaces it')
  t.equal(await reporter.reportNow(), 2)
  reporter.stop()
  t.equal(timers.running.size, 0)
})

t.test('a failing report is passed on and the other paths still report', async t => {
  const errors: string[] = []
  const reported: string[] = []
  const reporter = new MetricsReporter({
    report: async metrics => {
      if (metrics.pathId === 'fibre') throw new Error('spool closed')
      reported.push(metrics.pathId)
    },
    snapshot: () => [samplePathMetrics('fibre', 1), samplePathMetrics('lte', 1)],
    timers: new HandIntervals(),
    onError: e => errors.push(e.message),
  })
  t.equal(await reporter.reportNow(), 1)
  t.same(reported, ['lte'])
  t.same(errors, ['spool closed'])
})
