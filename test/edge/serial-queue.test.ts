// One piece of work at a time, in call order; a failure rejects its own caller and the queue goes on.
import t from 'tap'
import { serialQueue } from '../../edge/serial-queue.js'

t.test('work runs one at a time in call order; a failure does not stop the queue', async t => {
  const serial = serialQueue()
  const events: string[] = []
  const step = (name: string, ms: number, fail = false) => () =>
    new Promise<string>((resolve, reject) => {
      events.push(`start ${name}`)
      setTimeout(() => {
        events.push(`end ${name}`)
        if (fail) reject(new Error(name))
        else resolve(name)
      }, ms)
    })
  const a = serial(step('a', 20))
  const b = serial(step('b', 1, true))
  const c = serial(step('c', 1))
  t.equal(await a, 'a')
  await t.rejects(b, { message: 'b' })
  t.equal(await c, 'c')
  t.same(events, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c'], 'b waited for a, c for b, although both were quicker')
})
