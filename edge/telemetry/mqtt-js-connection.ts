// ConnectMqtt over MQTT.js: one MQTT 5 connection per call, with MQTT.js's own reconnect switched off
// (reconnectPeriod 0) because BrokerLink reconnects with jittered backoff, and a clean start, because
// the spool — not a broker session — carries what was produced while away.
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt'
import { MqttConnectionLost, MqttRefused, type ConnectMqtt, type MqttConnection, type ReceivedMessage } from './mqtt-port.js'

export const connectWithMqttJs: ConnectMqtt = request =>
  new Promise((resolve, reject) => {
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: request.clientId,
      clean: true,
      keepalive: request.keepaliveS,
      connectTimeout: request.connectTimeoutMs,
      reconnectPeriod: 0,
      will: { topic: request.will.topic, payload: Buffer.from(request.will.payload), qos: request.will.qos, retain: request.will.retain },
      ...(request.tls ? { ca: request.tls.ca, cert: request.tls.cert, key: request.tls.key, rejectUnauthorized: true } : {}),
    }
    const client = mqttConnect(request.url, options)
    let settled = false
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      client.end(true)
      reject(error)
    }
    client.once('error', error => {
      const code = (error as { code?: number | string }).code
      fail(typeof code === 'number' ? new MqttRefused(`broker refused the connection: ${error.message}`, code) : error)
    })
    client.once('close', () => fail(new MqttConnectionLost(`connection to ${request.url} closed before CONNACK`)))
    client.once('connect', () => {
      if (settled) return
      settled = true
      client.removeAllListeners('error')
      client.removeAllListeners('close')
      resolve(wrap(client))
    })
  })

function wrap(client: MqttClient): MqttConnection {
  const pending = new Set<(error: Error) => void>()
  const closeHandlers: Array<(reason: string) => void> = []
  let closeReason = 'connection closed'
  let closed = false
  // After CONNACK an 'error' (e.g. a DISCONNECT from the broker, a socket error) always ends in 'close'.
  client.on('error', error => (closeReason = error.message))
  client.on('disconnect', packet => (closeReason = `broker sent DISCONNECT, reason code 0x${(packet.reasonCode ?? 0).toString(16)}`))
  client.on('close', () => {
    if (closed) return
    closed = true
    // MQTT.js would keep in-flight QoS 1 messages for a reconnect we never make: fail them now.
    for (const rejectPending of [...pending]) rejectPending(new MqttConnectionLost(closeReason))
    pending.clear()
    client.end(true)
    for (const handler of closeHandlers) handler(closeReason)
  })
  return {
    publish: (topic, payload, options) =>
      new Promise<void>((resolve, reject) => {
        if (closed) return reject(new MqttConnectionLost(closeReason))
        let done = false
        const settle = (error?: Error) => {
          if (done) return
          done = true
          pending.delete(settle)
          if (error) reject(error)
          else resolve()
        }
        pending.add(settle)
        const properties = {
          ...(options.correlationData ? { correlationData: options.correlationData } : {}),
          ...(options.contentType ? { contentType: options.contentType } : {}),
        }
        client.publish(topic, payload, { qos: options.qos, retain: options.retain ?? false, properties }, error => {
          if (!error) return settle()
          const code = (error as { code?: number }).code
          settle(typeof code === 'number' ? new MqttRefused(`broker refused publish to ${topic}: ${error.message}`, code) : error)
        })
      }),
    subscribe: filters =>
      new Promise<void>((resolve, reject) => {
        client.subscribe([...filters], { qos: 1 }, (error, granted) => {
          if (error) return reject(error)
          const refused = (granted ?? []).filter(g => g.qos >= 0x80)
          if (refused.length > 0) reject(new MqttRefused(`broker refused subscriptions: ${refused.map(g => `${g.topic} (0x${g.qos.toString(16)})`).join(', ')}`, refused[0]!.qos))
          else resolve()
        })
      }),
    onMessage: handler =>
      void client.on('message', (topic, payload, packet) => {
        const message: ReceivedMessage = {
          topic,
          payload,
          ...(packet.properties?.responseTopic ? { responseTopic: packet.properties.responseTopic } : {}),
          ...(packet.properties?.correlationData ? { correlationData: Buffer.from(packet.properties.correlationData) } : {}),
        }
        handler(message)
      }),
    onClose: handler => void (closed ? handler(closeReason) : closeHandlers.push(handler)),
    end: () =>
      new Promise<void>(resolve => {
        if (closed) return resolve()
        client.end(false, { reasonCode: 0 }, () => resolve())
      }),
    destroy: () => void client.stream.destroy(),
  }
}
