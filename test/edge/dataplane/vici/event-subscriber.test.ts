// ViciEventSubscriber: its own connection, registration of every event, reconnect with capped backoff
// after charon goes away, registration again on the new connection.
import t from 'tap'
import { ViciEventSubscriber } from '../../../../edge/dataplane/vici/event-subscriber.js'
import type { ViciMessage } from '../../../../edge/dataplane/vici/message.js'
import { FakeCharon } from './helpers/fake-charon.js'
import { FakeTimers } from './helpers/fake-timers.js'
import { Recorder } from './helpers/recorder.js'

t.test('reconnects with capped backoff and registers again after charon restarts', async t => {
  const timers = new FakeTimers()
  const charons: FakeCharon[] = []
  // Connection attempts in order: refused, accepted, (charon dies), refused, refused, accepted.
  const plan = ['refuse', 'accept', 'refuse', 'refuse', 'accept'] as const
  let attempt = 0
  const connect = async (): Promise<FakeCharon['socket']> => {
    const step = plan[attempt++]
    if (step !== 'accept') throw new Error('connect ECONNREFUSED')
    const charon = new FakeCharon({})
    charons.push(charon)
    return charon.socket
  }
  const registered = new Recorder<number>()
  const disconnects = new Recorder<{ reason: string; retryInMs: number }>()
  const events = new Recorder<{ event: string; message: ViciMessage }>()
  const subscriber = new ViciEventSubscriber({
    connect,
    events: ['ike-updown', 'child-updown'],
    onEvent: (event, message) => events.push({ event, message }),
    onRegistered: g => registered.push(g),
    onDisconnected: (reason, retryInMs) => disconnects.push({ reason: reason.message, retryInMs }),
    timers,
    backoff: { initialMs: 50, maxMs: 150 },
  })
  subscriber.start()

  await disconnects.waitFor((_, i) => i === 0)
  timers.fireNext()
  await registered.waitFor(g => g === 1)
  t.ok(subscriber.connected)
  t.same([...charons[0]!.registered].sort(), ['child-updown', 'ike-updown'], 'both events registered')

  charons[0]!.send({ type: 'event', name: 'child-updown', message: { up: 'yes' } })
  t.same((await events.waitFor(() => true)).event, 'child-updown', 'events are delivered')

  charons[0]!.hangUp()
  await disconnects.waitFor((_, i) => i === 1)
  t.notOk(subscriber.connected)
  timers.fireNext()
  await disconnects.waitFor((_, i) => i === 2)
  timers.fireNext()
  await disconnects.waitFor((_, i) => i === 3)
  timers.fireNext()
  await registered.waitFor(g => g === 2)
  t.same([...charons[1]!.registered].sort(), ['child-updown', 'ike-updown'], 're-registered on the new connection')
  t.same(
    disconnects.items.map(d => d.retryInMs),
    [50, 50, 100, 150],
    'backoff grows, is capped, and starts over after a good connection',
  )
  t.match(disconnects.items[1]?.reason, /closed the VICI connection/)

  await subscriber.stop()
  t.notOk(subscriber.connected)
  t.ok(charons[1]!.socket.destroyed, 'stop closes the connection')
})

t.test('stop() during a backoff ends the loop without another attempt', async t => {
  const timers = new FakeTimers()
  let attempts = 0
  const disconnects = new Recorder<number>()
  const subscriber = new ViciEventSubscriber({
    connect: async () => {
      attempts++
      throw new Error('connect ENOENT')
    },
    events: ['ike-updown'],
    onEvent: () => undefined,
    onDisconnected: (_, ms) => disconnects.push(ms),
    timers,
    backoff: { initialMs: 10, maxMs: 10 },
  })
  subscriber.start()
  await disconnects.waitFor(() => true)
  await subscriber.stop()
  t.equal(attempts, 1)
  t.same(timers.pendingDelays(), [], 'no timer left behind')
})

t.test('an unknown event name counts as a failed connection and is retried', async t => {
  const timers = new FakeTimers()
  const disconnects = new Recorder<string>()
  const subscriber = new ViciEventSubscriber({
    connect: async () => new FakeCharon({}, ['ike-updown']).socket,
    events: ['ike-updown', 'no-such-event'],
    onEvent: () => undefined,
    onDisconnected: reason => disconnects.push(reason.name),
    timers,
    backoff: { initialMs: 10, maxMs: 10 },
  })
  subscriber.start()
  t.equal(await disconnects.waitFor(() => true), 'ViciUnknownEventError')
  await subscriber.stop()
})
