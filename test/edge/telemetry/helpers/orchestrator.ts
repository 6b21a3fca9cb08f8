// The orchestrator's side in broker tests: an MQTT.js client with the orchestrator's certificate and a
// persistent MQTT 5 session (clean start off, session expiry an hour: §3.1.2.4, §3.1.2.11.2), so what
// the edge sends while the orchestrator reconnects after a broker restart is queued for it.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connectAsync, type MqttClient } from 'mqtt'
import type { Test } from 'tap'
import { ORCHESTRATOR, type TlsBroker } from './tls-broker.js'

export interface SeenMessage {
  readonly topic: string
  readonly text: string
  readonly json: unknown
  readonly retain: boolean
  readonly correlationData?: Buffer
}

export class TestOrchestrator {
  readonly messages: SeenMessage[] = []

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const text = payload.toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        json = undefined
      }
      const correlationData = packet.properties?.correlationData
      this.messages.push({ topic, text, json, retain: packet.retain, ...(correlationData ? { correlationData: Buffer.from(correlationData) } : {}) })
    })
  }

  static async connect(test: Test, broker: TlsBroker, filters: string[]): Promise<TestOrchestrator> {
    const creds = broker.pki.client(ORCHESTRATOR)
    const client = await connectAsync(broker.url, {
      protocolVersion: 5,
      clientId: `orchestrator-${randomBytes(4).toString('hex')}`,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 250,
      ca: readFileSync(broker.pki.caFile),
      cert: readFileSync(creds.certFile),
      key: readFileSync(creds.keyFile),
    })
    const orchestrator = new TestOrchestrator(client)
    await client.subscribeAsync(filters, { qos: 1 })
    test.teardown(() => client.endAsync(true))
    return orchestrator
  }

  on(topic: string): SeenMessage[] {
    return this.messages.filter(m => m.topic === topic)
  }

  async publish(topic: string, payload: string, properties: { responseTopic?: string; correlationData?: Buffer } = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, properties })
  }
}

let requestCounter = 0

/**
 * Sends a request the MQTT 5 way (Response Topic + Correlation Data, §4.10) and waits for the message
 * carrying the same correlation data on the response topic. The orchestrator must subscribe to it.
 */
export async function requestReply(orchestrator: TestOrchestrator, topic: string, payload: string, responseTopic: string): Promise<SeenMessage> {
  const correlationData = Buffer.from(`req-${process.pid}-${++requestCounter}`)
  await orchestrator.publish(topic, payload, { responseTopic, correlationData })
  for (let waited = 0; waited < 60_000; waited += 50) {
    const reply = orchestrator.messages.find(m => m.topic === responseTopic && m.correlationData?.equals(correlationData))
    if (reply) return reply
    await new Promise(r => setTimeout(r, 50))
  }
  throw new Error(`no reply on ${responseTopic} to ${topic} within 60 s`)
}
