// Store and forward across a broker outage of more than 60 s: the edge keeps producing metrics and
// events every 200 ms while Mosquitto is down, spools them, and delivers every one in production order
// when the broker is back. Every record is counted by its (boot, seq); duplicates are allowed (QoS 1 is
// at least once), losses and reordering are not.
import t from 'tap'
import { validatePayload } from '../../../edge/telemetry/payload-schemas.js'
import { openEdge, samplePathMetrics, telemetrySettings } from './helpers/edge.js'
import { TestOrchestrator } from './helpers/orchestrator.js'
import { requireBroker } from './helpers/require-broker.js'
import { TlsBroker, waitFor } from './helpers/tls-broker.js'

const LYON = { site: 'office-lyon', device: 'edge-lyon-1' }
const ROOT = `sdwan/${LYON.site}/${LYON.device}`
const OUTAGE_MS = 62_000
const TICK_MS = 200

if (requireBroker()) {
  const broker = await TlsBroker.start(t, [LYON])

  t.test(`a ${OUTAGE_MS / 1000} s broker outage loses nothing`, async t => {
    const orchestrator = await TestOrchestrator.connect(t, broker, [`${ROOT}/metrics/+`, `${ROOT}/events`])
    const edge = await openEdge(t, { identity: LYON, settings: telemetrySettings(broker, broker.pki.client(LYON.device)) })
    edge.start()
    await waitFor('connected', () => edge.connected)

    let produced = 0
    let tick = 0
    const producing = setInterval(() => {
      tick++
      for (const path of ['fibre', 'lte']) {
        const { metrics, health } = samplePathMetrics(path, tick)
        void edge.reportMetrics(metrics, health)
        produced++
      }
      if (tick % 10 === 0) {
        void edge.publishEvent({ type: 'test.tick', severity: 'info', message: `tick ${tick}`, data: { tick } })
        produced++
      }
    }, TICK_MS)
    t.teardown(() => clearInterval(producing))

    await new Promise(r => setTimeout(r, 3000))
    await broker.stop()
    const stoppedAt = Date.now()
    await waitFor('the edge to notice', () => !edge.connected)
    await new Promise(r => setTimeout(r, OUTAGE_MS))
    await edge.settled()
    const spooledDuringOutage = edge.status().delivery.spool.pending
    t.ok(spooledDuringOutage > 0, `records waited in the spool during the outage (${spooledDuringOutage})`)
    await broker.restart()
    const downMs = Date.now() - stoppedAt
    t.ok(downMs >= 60_000, `the broker was down ${(downMs / 1000).toFixed(1)} s`)
    await new Promise(r => setTimeout(r, 3000))
    clearInterval(producing)
    await edge.settled()

    const seen = () => new Set(orchestrator.messages.map(m => (m.json as { seq: number }).seq))
    await waitFor('every produced record', () => seen().size >= produced, 120_000)
    await waitFor('the spool to empty', () => edge.status().delivery.spool.pending === 0)

    const firstSeen: number[] = []
    const unique = new Set<number>()
    for (const m of orchestrator.messages) {
      const seq = (m.json as { seq: number }).seq
      if (!unique.has(seq)) firstSeen.push(seq)
      unique.add(seq)
    }
    t.equal(unique.size, produced, `every one of ${produced} records arrived`)
    t.same(firstSeen, Array.from({ length: produced }, (_, i) => i + 1), 'in production order, none missing')
    t.comment(`${orchestrator.messages.length} messages for ${produced} records (${orchestrator.messages.length - produced} duplicates)`)
    const invalid = orchestrator.messages.filter(m => !validatePayload(m.topic.endsWith('/events') ? 'event' : 'metrics', m.json).ok)
    t.equal(invalid.length, 0, 'every message matches its schema')
    t.equal(edge.status().delivery.spool.metricsDropped, 0, 'the bound was never reached')
  })
}
