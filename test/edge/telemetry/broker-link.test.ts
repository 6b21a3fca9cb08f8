// BrokerLink.stop() while the connection's birth and subscriptions are still going out: it must still
// send the goodbye and close the socket in order (found when a full-suite run hung waiting for the
// offline state).
import t from 'tap'
import { BrokerLink } from '../../../edge/telemetry/broker-link.js'
import type { MqttConnection } from '../../../edge/telemetry/mqtt-port.js'

t.test('stop during onUp says goodbye and ends the connection', async t => {
  const calls: string[] = []
  let closeHandler: (reason: string) => void = () => undefined
  const connection: MqttConnection = {
    publish: async topic => void calls.push(`publish ${topic}`),
    subscribe: async () => undefined,
    onMessage: () => undefined,
    onClose: h => void (closeHandler = h),
    end: async () => {
      calls.push('end')
      closeHandler('ended')
    },
    destroy: () => void calls.push('destroy'),
  }
  let releaseBirth: () => void = () => undefined
  let connected: () => void = () => undefined
  const up = new Promise<void>(r => (connected = r))
  const link = new BrokerLink({
    connect: async () => connection,
    request: async () => ({}) as never,
    timers: { setTimeout: () => 0, clearTimeout: () => undefined } as never,
    random: () => 0.5,
    onUp: () => {
      connected()
      return new Promise<void>(r => (releaseBirth = r))
    },
    onDown: () => void calls.push('down'),
  })
  link.start()
  await up
  t.equal(link.connection, undefined, 'not up yet: the birth is still going out')
  await link.stop(async c => c.publish('state', 'offline', { qos: 1, retain: true }))
  releaseBirth()
  t.same(calls, ['publish state', 'end'], 'the goodbye went out and the connection was ended in order')
})
