import t from 'tap'
import { cancellableSleep, cappedBackoffMs } from '../../../../edge/dataplane/vici/retry.js'
import { FakeTimers } from './helpers/fake-timers.js'

t.test('capped exponential backoff', async t => {
  const policy = { initialMs: 100, maxMs: 1000 }
  t.same([0, 1, 2, 3, 4, 5, 2000].map(a => cappedBackoffMs(a, policy)), [100, 200, 400, 800, 1000, 1000, 1000])
  t.same([0, 1, 2].map(a => cappedBackoffMs(a, { initialMs: 10, maxMs: 1e6, factor: 3 })), [10, 30, 90])
})

t.test('cancellableSleep resolves when the timer fires, or at once on cancel', async t => {
  const timers = new FakeTimers()
  const a = cancellableSleep(timers, 50)
  t.same(timers.pendingDelays(), [50])
  timers.fireNext()
  await a.done
  const b = cancellableSleep(timers, 50)
  b.cancel()
  await b.done
  t.same(timers.pendingDelays(), [], 'cancel clears the timer')
})
