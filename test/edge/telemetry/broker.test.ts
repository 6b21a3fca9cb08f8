// The telemetry client against a real Mosquitto with mutual TLS and per-device ACLs: retained birth,
// inventory and last will; metrics, events and decisions arrive and match their JSON Schemas; a
// certificate from an untrusted CA is refused at the TLS handshake; another device's certificate cannot
// speak for this device.
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { connectWithMqttJs } from '../../../edge/telemetry/mqtt-js-connection.js'
import type { MqttConnection } from '../../../edge/telemetry/mqtt-port.js'
import { validatePayload, type PayloadKind } from '../../../edge/telemetry/payload-schemas.js'
import { openEdge, samplePathMetrics, telemetrySettings } from './helpers/edge.js'
import { TestOrchestrator, type SeenMessage } from './helpers/orchestrator.js'
import { requireBroker } from './helpers/require-broker.js'
import { TlsBroker, waitFor } from './helpers/tls-broker.js'

const LYON = { site: 'office-lyon', device: 'edge-lyon-1' }
const PARIS = { site: 'office-paris', device: 'edge-paris-1' }
const ROOT = `sdwan/${LYON.site}/${LYON.device}`

function kindOf(topic: string): PayloadKind {
  const leaf = topic.slice(ROOT.length + 1).split('/')[0]!
  const kinds: Record<string, PayloadKind> = { state: 'state', inventory: 'inventory', metrics: 'metrics', events: 'event', decisions: 'decisions' }
  return kinds[leaf]!
}

function assertValid(t: Test, messages: readonly SeenMessage[]): void {
  for (const m of messages) {
    const result = validatePayload(kindOf(m.topic), m.json)
    t.ok(result.ok, `${m.topic} matches its schema${result.ok ? '' : `: ${result.problems.join('; ')}`}`)
  }
}

if (requireBroker()) {
  const broker = await TlsBroker.start(t, [LYON, PARIS])

  t.test('birth and inventory are retained; the will announces a lost connection', async t => {
    const orchestrator = await TestOrchestrator.connect(t, broker, [`${ROOT}/#`])
    const edge = await openEdge(t, { identity: LYON, settings: telemetrySettings(broker, broker.pki.client(LYON.device)) })
    let connection: MqttConnection | undefined
    edge.onConnected(c => (connection = c))
    edge.start()
    const states = () => orchestrator.on(`${ROOT}/state`).map(m => m.json as { online: boolean; reason: string })
    await waitFor('birth', () => states().some(s => s.online))
    await waitFor('inventory', () => orchestrator.on(`${ROOT}/inventory`).length > 0)
    t.match(states()[0], { online: true, reason: 'birth', serial: 7, firmware: '0.1.0-test' })
    t.match(orchestrator.on(`${ROOT}/inventory`)[0]!.json, {
      system: { model: 'APU4D4' },
      interfaces: [{ name: 'enp1s0', speedMbps: 1000 }, { name: 'wwan0', speedMbps: null }],
    })
    // onConnected fires once the birth has finished (subscriptions and spool too), which can be after the
    // orchestrator has the birth and inventory messages.
    await waitFor('the birth to finish', () => connection !== undefined)
    connection!.destroy()
    await waitFor('will', () => states().some(s => !s.online))
    t.match(states().find(s => !s.online), { online: false, reason: 'connection-lost' })
    await waitFor('second birth after the reconnect', () => states().filter(s => s.online).length >= 2)
    await edge.stop()
    await waitFor('shutdown state', () => states().some(s => s.reason === 'shutdown'))
    assertValid(t, orchestrator.messages)

    // A newcomer sees the retained state and inventory without waiting for the device.
    const late = await TestOrchestrator.connect(t, broker, [`${ROOT}/state`, `${ROOT}/inventory`])
    await waitFor('retained messages', () => late.messages.length >= 2)
    t.ok(late.messages.every(m => m.retain), 'state and inventory are retained')
    t.match(late.on(`${ROOT}/state`)[0]!.json, { online: false, reason: 'shutdown' })
  })

  t.test('metrics per path, events and decisions arrive and match their schemas', async t => {
    const orchestrator = await TestOrchestrator.connect(t, broker, [`${ROOT}/#`])
    const edge = await openEdge(t, { identity: LYON, settings: telemetrySettings(broker, broker.pki.client(LYON.device)) })
    edge.start()
    await waitFor('connected', () => edge.connected)
    for (let i = 1; i <= 20; i++) {
      for (const path of ['fibre', 'cable']) {
        const { metrics, health } = samplePathMetrics(path, i)
        await edge.reportMetrics(metrics, health)
      }
    }
    await edge.publishEvent({ type: 'path.down', severity: 'warning', message: 'cable: 5 probes in a row unanswered', data: { path: 'cable' } })
    await edge.publishDecisions([{ class: 'meetings', active: [{ path: 'fibre', weight: 1 }], keep: ['fibre'], reason: 'cable down' }])
    const records = () => orchestrator.messages.filter(m => /\/(metrics\/[^/]+|events|decisions)$/.test(m.topic))
    await waitFor('every record', () => records().length >= 42)
    t.equal(orchestrator.on(`${ROOT}/metrics/fibre`).length, 20)
    t.equal(orchestrator.on(`${ROOT}/metrics/cable`).length, 20)
    t.match(orchestrator.on(`${ROOT}/events`)[0]!.json, { type: 'path.down', severity: 'warning' })
    t.match(orchestrator.on(`${ROOT}/decisions`)[0]!.json, { decisions: [{ class: 'meetings' }] })
    const seqs = records().map(m => (m.json as { seq: number }).seq)
    t.same(seqs, [...seqs].sort((a, b) => a - b), 'records arrive in production order')
    assertValid(t, orchestrator.messages)
    t.equal(edge.status().delivery.mode, 'direct')
  })

  t.test('a certificate from an untrusted CA is refused; the edge keeps retrying with backoff', async t => {
    const rogue = broker.pki.rogueClient(LYON.device)
    const request = {
      url: broker.url,
      clientId: LYON.device,
      tls: { ca: readFileSync(broker.pki.caFile), cert: readFileSync(rogue.certFile), key: readFileSync(rogue.keyFile) },
      will: { topic: `${ROOT}/state`, payload: '{}', retain: true, qos: 1 as const },
      keepaliveS: 30,
      connectTimeoutMs: 10_000,
    }
    await t.rejects(connectWithMqttJs(request), 'the TLS handshake fails')

    const orchestrator = await TestOrchestrator.connect(t, broker, [`${ROOT}/#`])
    const failures: string[] = []
    const edge = await openEdge(t, {
      identity: LYON,
      settings: telemetrySettings(broker, rogue),
      log: { info: () => undefined, warn: m => failures.push(m) },
    })
    edge.start()
    await waitFor('three refused attempts', () => failures.length >= 3)
    t.notOk(edge.connected)
    t.match(edge.status().lastError, /./, 'the last error is kept for status')
    await edge.publishEvent({ type: 'test.held', severity: 'info', message: 'spooled while refused' })
    await edge.settled()
    t.equal(edge.status().delivery.spool.pending, 1, 'records wait in the spool')
    t.equal(orchestrator.messages.filter(m => !m.retain).length, 0, 'nothing reached the broker')
  })

  t.test("another device's certificate cannot publish as this device", async t => {
    const orchestrator = await TestOrchestrator.connect(t, broker, [`${ROOT}/#`])
    const failures: string[] = []
    const impostor = await openEdge(t, {
      identity: LYON,
      settings: telemetrySettings(broker, broker.pki.client(PARIS.device)),
      log: { info: () => undefined, warn: m => failures.push(m) },
    })
    impostor.handle(topics => topics.policyPush, () => undefined)
    impostor.start()
    await waitFor('a refused session', () => failures.length >= 2)
    t.notOk(impostor.connected, 'the session is never established: the ACL refuses its birth (PUBACK 0x87)')
    t.equal(orchestrator.messages.filter(m => !m.retain && m.topic.startsWith(ROOT)).length, 0, 'nothing published under the Lyon device')
    t.comment(`refused with: ${failures[0]}`)
  })
}
