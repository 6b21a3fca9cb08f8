// `npm run bench telemetry [-- --reports N --spool N]`: what telemetry costs and how fast it moves.
//   bytes_per_report     one path's metrics report: JSON payload, and the MQTT 5 PUBLISH on the wire
//                        (fixed header, topic, packet id, Content Type property, payload; TLS adds its
//                        own ≈ 22–29 bytes per record on top)
//   reports_per_s        metrics reports the edge's TelemetryClient publishes (QoS 1, every PUBACK
//                        awaited) to a real Mosquitto over mutual TLS on 127.0.0.1
//   reference            mosquitto_pub -l -q 1 with the same certificate, topic and payloads, same broker,
//                        same run: reports_per_s / its rate is printed as the ratio; and the same
//                        publishes straight through MQTT.js (connectWithMqttJs), to separate the client
//                        library's cost from ours
//   spool write          records/s appended to the on-disk spool while offline (metrics: fsync ≤ 1/s)
//   spool_replay_per_s   records/s delivered from the spool to the broker once it is reachable (QoS 1),
//                        and, for context, records/s read back from disk alone (peek + ack, no network)
import { spawn } from 'node:child_process'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connectWithMqttJs } from '../../edge/telemetry/mqtt-js-connection.js'
import { metricsPayload } from '../../edge/telemetry/payloads.js'
import { nodeSpoolFs } from '../../edge/telemetry/spool/spool-fs.js'
import { Spool } from '../../edge/telemetry/spool/spool.js'
import { TelemetryClient } from '../../edge/telemetry/telemetry-client.js'
import { deviceTopics } from '../../edge/telemetry/topics.js'
import { FIXED_FACTS, samplePathMetrics, telemetrySettings } from '../edge/telemetry/helpers/edge.js'
import { missingBrokerCapability, TlsBroker } from '../edge/telemetry/helpers/tls-broker.js'

const { values } = parseArgs({ options: { reports: { type: 'string' }, spool: { type: 'string' } } })
const REPORTS = Number(values.reports ?? 20_000)
const SPOOLED = Number(values.spool ?? 20_000)
const LYON = { site: 'office-lyon', device: 'edge-lyon-1' }
const PATHS = ['fibre', 'cable', 'lte', 'hub1-fibre']
const cleanups: Array<() => unknown> = []
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
const rate = (count: number, ms: number) => Math.round((count / ms) * 1000)

const varintLength = (n: number) => (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4)
/** MQTT 5 PUBLISH QoS 1 size (§3.3): fixed header + topic + packet id + properties (Content Type) + payload. */
function publishWireBytes(topic: string, payload: string): number {
  const properties = 1 + 2 + Buffer.byteLength('application/json')
  const remaining = 2 + Buffer.byteLength(topic) + 2 + varintLength(properties) + properties + Buffer.byteLength(payload)
  return 1 + varintLength(remaining) + remaining
}

function samplePayload(path: string, i: number): string {
  const { metrics, health } = samplePathMetrics(path, i)
  return JSON.stringify(metricsPayload({ ts: new Date(Date.UTC(2026, 10, 23, 20, 0, i % 60)).toISOString(), boot: '00112233445566ff', seq: 100000 + i }, metrics, health))
}

async function openEdge(broker: TlsBroker, stateDir: string): Promise<TelemetryClient> {
  const edge = await TelemetryClient.open({
    identity: LYON,
    settings: telemetrySettings(broker, broker.pki.client(LYON.device), { spoolMaxMb: 256 }),
    firmware: '0.1.0-bench',
    stateDir,
    runningSerial: () => 1,
    systemFacts: FIXED_FACTS,
    backoff: { initialMs: 50, maxMs: 200, jitter: 0.5 },
  })
  edge.start()
  while (!edge.connected) await sleep(10)
  while (edge.status().delivery.mode !== 'direct') await sleep(10)
  return edge
}

async function waitDelivered(edge: TelemetryClient, count: number): Promise<void> {
  while (edge.status().delivery.delivered < count) await sleep(2)
}

async function edgePublishRate(broker: TlsBroker): Promise<number> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-bench-'))
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }))
  const edge = await openEdge(broker, dir)
  const { metrics, health } = samplePathMetrics('fibre', 3)
  const start = performance.now()
  for (let i = 0; i < REPORTS; i++) void edge.reportMetrics({ ...metrics, pathId: PATHS[i % PATHS.length]! }, health)
  await edge.settled()
  await waitDelivered(edge, REPORTS)
  const ms = performance.now() - start
  await edge.stop()
  return rate(REPORTS, ms)
}

/** The same publishes straight through connectWithMqttJs: what MQTT.js itself costs, without our layers. */
async function rawMqttJsRate(broker: TlsBroker, count = REPORTS): Promise<number> {
  const creds = broker.pki.client(LYON.device)
  const topic = deviceTopics('sdwan', LYON.site, LYON.device).metrics('fibre')
  const connection = await connectWithMqttJs({
    url: broker.url,
    clientId: LYON.device,
    tls: { ca: await fsp.readFile(broker.pki.caFile), cert: await fsp.readFile(creds.certFile), key: await fsp.readFile(creds.keyFile) },
    will: { topic: deviceTopics('sdwan', LYON.site, LYON.device).state, payload: '{}', retain: false, qos: 0 },
    keepaliveS: 30,
    connectTimeoutMs: 10_000,
  })
  const payloads = Array.from({ length: count }, (_, i) => samplePayload('fibre', i))
  const start = performance.now()
  await Promise.all(payloads.map(p => connection.publish(topic, p, { qos: 1, contentType: 'application/json' })))
  const perS = rate(count, performance.now() - start)
  await connection.end()
  return perS
}

async function mosquittoPubRate(broker: TlsBroker): Promise<number> {
  const creds = broker.pki.client(LYON.device)
  const topic = deviceTopics('sdwan', LYON.site, LYON.device).metrics('fibre')
  const lines = Array.from({ length: REPORTS }, (_, i) => samplePayload('fibre', i)).join('\n') + '\n'
  const args = ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1', '-i', LYON.device, '--cafile', broker.pki.caFile, '--cert', creds.certFile, '--key', creds.keyFile, '-t', topic, '-l']
  const start = performance.now()
  const child = spawn('mosquitto_pub', args, { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', d => (stderr += d))
  child.stdin.end(lines)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`mosquitto_pub exited ${code}: ${stderr}`)
  return rate(REPORTS, performance.now() - start)
}

async function spoolRates(broker: TlsBroker): Promise<{ writePerS: number; readPerS: number; replayPerS: number }> {
  // Disk only: append offline, then read back and acknowledge.
  const dir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-bench-spool-'))
  cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }))
  const topic = deviceTopics('sdwan', LYON.site, LYON.device).metrics('fibre')
  const spool = await Spool.open({ dir: join(dir, 'spool'), maxBytes: 256 << 20, fs: nodeSpoolFs, now: () => performance.now() })
  const payloads = Array.from({ length: SPOOLED }, (_, i) => samplePayload('fibre', i))
  let start = performance.now()
  for (let i = 0; i < SPOOLED; i++) await spool.append(i % 50 === 0 ? 'event' : 'metric', topic, payloads[i]!)
  const writePerS = rate(SPOOLED, performance.now() - start)
  start = performance.now()
  let read = 0
  for (let batch = await spool.peek(100); batch.length > 0; batch = await spool.peek(100)) {
    read += batch.length
    await spool.ack(batch[batch.length - 1]!.seq)
  }
  const readPerS = rate(read, performance.now() - start)
  await spool.close()

  // End to end: the edge spools while the broker is away, then drains to it.
  const stateDir = await fsp.mkdtemp(join(tmpdir(), 'sdwan-bench-state-'))
  cleanups.push(() => fsp.rm(stateDir, { recursive: true, force: true }))
  const edge = await openEdge(broker, stateDir)
  const delivered0 = edge.status().delivery.delivered
  await broker.stop()
  while (edge.connected) await sleep(10)
  const { metrics, health } = samplePathMetrics('fibre', 5)
  for (let i = 0; i < SPOOLED; i++) await edge.reportMetrics(metrics, health)
  await edge.settled()
  if (edge.status().delivery.spool.pending !== SPOOLED) throw new Error(`expected ${SPOOLED} spooled, have ${edge.status().delivery.spool.pending}`)
  await broker.restart()
  edge.retryNow()
  while (!edge.connected) await sleep(5)
  start = performance.now()
  await waitDelivered(edge, delivered0 + SPOOLED)
  const replayPerS = rate(SPOOLED, performance.now() - start)
  await edge.stop()
  return { writePerS, readPerS, replayPerS }
}

async function main(): Promise<void> {
  const missing = missingBrokerCapability()
  if (missing) throw new Error(`bench telemetry needs a broker: ${missing}`)
  const topics = deviceTopics('sdwan', LYON.site, LYON.device)
  const perPath = Object.fromEntries(
    PATHS.map(path => {
      const payload = samplePayload(path, 7)
      return [path, { payload: Buffer.byteLength(payload), wire: publishWireBytes(topics.metrics(path), payload) }]
    }),
  )
  for (const [path, size] of Object.entries(perPath)) console.log(`metrics report, path ${path.padEnd(10)} payload ${size.payload} B, MQTT 5 PUBLISH ${size.wire} B`)
  const fibre = perPath.fibre!
  const perInterval = Object.values(perPath).reduce((sum, s) => sum + s.wire, 0)
  console.log(`one report interval, ${PATHS.length} paths: ${perInterval} B (${((perInterval * 8640) / 1e6).toFixed(1)} MB/day at reportIntervalS 10)`)

  const broker = await TlsBroker.start({ teardown: fn => void cleanups.push(fn) }, [LYON])
  // Warm the JIT on MQTT.js, TLS and JSON first, so whichever is measured first is not penalised.
  await rawMqttJsRate(broker, 5000)
  const edgeRate = await edgePublishRate(broker)
  const referenceRate = await mosquittoPubRate(broker)
  const rawRate = await rawMqttJsRate(broker)
  console.log(`publish, QoS 1 over mutual TLS: edge ${edgeRate}/s, mosquitto_pub ${referenceRate}/s (ratio ${(edgeRate / referenceRate).toFixed(2)}), bare MQTT.js ${rawRate}/s (ratio ${(edgeRate / rawRate).toFixed(2)})`)
  const spool = await spoolRates(broker)
  console.log(`spool: write ${spool.writePerS}/s (events fsynced, metrics ≤ 1 fsync/s), read back ${spool.readPerS}/s, replay to the broker ${spool.replayPerS}/s (ratio to live publish ${(spool.replayPerS / edgeRate).toFixed(2)})`)
  console.log(
    JSON.stringify({
      bench: 'telemetry',
      bytes_per_report: fibre.wire,
      payload_bytes_per_report: fibre.payload,
      bytes_per_report_by_path: Object.fromEntries(Object.entries(perPath).map(([p, s]) => [p, s.wire])),
      reports_per_s: edgeRate,
      reference_mosquitto_pub_per_s: referenceRate,
      ratio_to_mosquitto_pub: Number((edgeRate / referenceRate).toFixed(2)),
      bare_mqtt_js_per_s: rawRate,
      ratio_to_bare_mqtt_js: Number((edgeRate / rawRate).toFixed(2)),
      spool_write_per_s: spool.writePerS,
      spool_read_per_s: spool.readPerS,
      spool_replay_per_s: spool.replayPerS,
    }),
  )
}

try {
  await main()
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
