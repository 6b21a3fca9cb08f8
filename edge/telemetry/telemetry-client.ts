// The edge's side of the orchestrator link: one MQTT 5 session over mutual TLS with the device id as
// client id, a retained birth and last will on PREFIX/SITE/DEVICE/state, the retained inventory,
// subscriptions for the control plane, and store-and-forward delivery of metrics, events, decisions and
// policy outcomes (delivery.ts over spool/spool.ts). Side effects come in through the options.
import { randomBytes } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import type { PathHealth } from '../../probes/health.js'
import type { PathMetrics } from '../../probes/metrics/path-metrics.js'
import type { TelemetrySettings } from '../config/policy.js'
import type { Decision } from '../dataplane/model.js'
import type { BackoffSettings } from './backoff.js'
import { BrokerLink, type LinkState } from './broker-link.js'
import { Delivery, type DeliveryCounters } from './delivery.js'
import { collectFacts, inventoryPayload, systeminformationFacts, type SystemFacts } from './inventory.js'
import { connectWithMqttJs } from './mqtt-js-connection.js'
import type { ConnectMqtt, ConnectRequest, MqttConnection, ReceivedMessage } from './mqtt-port.js'
import { decisionsPayload, eventPayload, metricsPayload, PAYLOAD_VERSION, type EventInput, type RecordStamp, type StatePayload } from './payloads.js'
import { nodeSpoolFs, type SpoolFs } from './spool/spool-fs.js'
import { Spool, type RecordClass, type SpoolStats } from './spool/spool.js'
import { systemClock, systemTimers, type Timers, type WallClock } from './timers.js'
import { deviceTopics, topicMatches, type DeviceTopics } from './topics.js'

export interface TelemetryIdentity {
  readonly site: string
  readonly device: string
}

export interface TelemetryLog {
  info(msg: string): void
  warn(msg: string): void
}

export interface TelemetryClientOptions {
  readonly identity: TelemetryIdentity
  readonly settings: TelemetrySettings
  readonly firmware: string
  /** The spool lives in STATE_DIR/spool (e.g. /var/lib/sdwan-edge/spool). */
  readonly stateDir: string
  /** Serial of the running policy, for the birth message. */
  readonly runningSerial: () => number | null
  readonly connect?: ConnectMqtt
  readonly readFile?: (path: string) => Promise<Buffer>
  readonly spoolFs?: SpoolFs
  readonly clock?: WallClock
  readonly timers?: Timers
  readonly random?: () => number
  readonly backoff?: BackoffSettings
  /** Where the inventory comes from; null publishes none. */
  readonly systemFacts?: SystemFacts | null
  /** Identifies this process run in every record; random by default. */
  readonly bootId?: string
  readonly keepaliveS?: number
  readonly connectTimeoutMs?: number
  /** Metrics fsync interval of the spool (spool.ts). */
  readonly metricsSyncMs?: number
  readonly log?: TelemetryLog
}

export type MessageHandler = (message: ReceivedMessage) => void

export interface TelemetryStatus {
  readonly link: LinkState
  readonly lastError: string | null
  readonly delivery: DeliveryCounters & { spool: SpoolStats; inFlight: number; mode: 'direct' | 'spooling' }
}

export class TelemetryClient {
  private identity: TelemetryIdentity
  private settings: TelemetrySettings
  private currentTopics: DeviceTopics
  private readonly link: BrokerLink
  private readonly delivery: Delivery
  private readonly handlers: Array<{ filter: (topics: DeviceTopics) => string; handler: MessageHandler }> = []
  private readonly upListeners = new Set<(connection: MqttConnection) => void>()
  private readonly downListeners = new Set<(reason: string) => void>()
  private readonly clock: WallClock
  private readonly bootId: string
  private seq = 0
  private started = false
  private lastError: string | null = null
  private refusedSinceReport = 0
  private droppedReported = 0

  private constructor(
    private readonly options: TelemetryClientOptions,
    private readonly spool: Spool,
  ) {
    this.identity = options.identity
    this.settings = options.settings
    this.currentTopics = deviceTopics(options.settings.topicPrefix, options.identity.site, options.identity.device)
    this.clock = options.clock ?? systemClock
    this.bootId = options.bootId ?? randomBytes(8).toString('hex')
    this.delivery = new Delivery(spool, {
      onRefusedBySpool: () => void this.refusedSinceReport++,
      onDrained: () => void this.reportSpoolLosses(),
      onError: error => this.noteError(error),
    })
    this.link = new BrokerLink({
      connect: options.connect ?? connectWithMqttJs,
      request: () => this.connectRequest(),
      timers: options.timers ?? systemTimers,
      random: options.random ?? Math.random,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      onUp: connection => this.birth(connection),
      onDown: reason => this.lost(reason),
      onAttemptFailed: (error, retryInMs) => {
        this.noteError(error)
        options.log?.warn(`telemetry: broker ${this.settings.broker} unreachable (${error.message}); retrying in ${retryInMs} ms`)
      },
    })
  }

  /** Opens the spool (replaying what a previous run left) without connecting yet. */
  static async open(options: TelemetryClientOptions): Promise<TelemetryClient> {
    const spool = await Spool.open({
      dir: join(options.stateDir, 'spool'),
      maxBytes: options.settings.spoolMaxMb * 1024 * 1024,
      fs: options.spoolFs ?? nodeSpoolFs,
      now: () => (options.clock ?? systemClock).now(),
      ...(options.metricsSyncMs !== undefined ? { metricsSyncMs: options.metricsSyncMs } : {}),
    })
    return new TelemetryClient(options, spool)
  }

  get topics(): DeviceTopics {
    return this.currentTopics
  }

  get boot(): string {
    return this.bootId
  }

  get connected(): boolean {
    return this.link.connection !== undefined
  }

  status(): TelemetryStatus {
    return { link: this.link.linkState, lastError: this.lastError, delivery: this.delivery.stats }
  }

  start(): void {
    this.started = true
    this.link.start()
  }

  /** Publishes the retained offline state, disconnects in order, and keeps undelivered records spooled. */
  async stop(): Promise<void> {
    this.started = false
    await this.link.stop(connection => connection.publish(this.currentTopics.state, JSON.stringify(this.statePayload(false, 'shutdown')), { qos: 1, retain: true }))
    await this.delivery.detach()
    await this.delivery.settled()
    await this.spool.close()
  }

  /**
   * Takes new telemetry settings (a new policy). A changed broker, TLS files, prefix, site or device
   * means a new session: the old one is closed with an offline state first (and a new one opened only
   * if the client was started). A new spoolMaxMb applies to the next append; records spooled before a
   * prefix change keep the topics they were produced for.
   */
  async reconfigure(identity: TelemetryIdentity, settings: TelemetrySettings): Promise<void> {
    const before = JSON.stringify([this.identity, this.settings.broker, this.settings.tls, this.settings.topicPrefix])
    this.identity = identity
    this.settings = settings
    this.spool.maxBytes = settings.spoolMaxMb * 1024 * 1024
    if (before === JSON.stringify([identity, settings.broker, settings.tls, settings.topicPrefix])) return
    const oldTopics = this.currentTopics
    await this.link.stop(connection => connection.publish(oldTopics.state, JSON.stringify(this.statePayload(false, 'shutdown')), { qos: 1, retain: true }))
    await this.delivery.detach()
    this.currentTopics = deviceTopics(settings.topicPrefix, identity.site, identity.device)
    if (this.started) this.link.start()
  }

  /** Skips the reconnect backoff wait, if one is running. */
  retryNow(): void {
    this.link.retryNow()
  }

  /** Registers a handler for a topic filter below this device (re-subscribed on every connect). */
  handle(filter: (topics: DeviceTopics) => string, handler: MessageHandler): void {
    this.handlers.push({ filter, handler })
  }

  /** Calls `listener` after every birth (connected, subscribed, delivering). Returns an unsubscribe. */
  onConnected(listener: (connection: MqttConnection) => void): () => void {
    this.upListeners.add(listener)
    return () => void this.upListeners.delete(listener)
  }

  /** Calls `listener` whenever an established connection is lost. Returns an unsubscribe. */
  onDisconnected(listener: (reason: string) => void): () => void {
    this.downListeners.add(listener)
    return () => void this.downListeners.delete(listener)
  }

  reportMetrics(metrics: PathMetrics, health: PathHealth): Promise<void> {
    return this.send('metric', this.currentTopics.metrics(metrics.pathId), metricsPayload(this.stamp(), metrics, health))
  }

  publishEvent(event: EventInput): Promise<void> {
    return this.send('event', this.currentTopics.events, eventPayload(this.stamp(), event))
  }

  publishDecisions(decisions: readonly Decision[]): Promise<void> {
    return this.send('event', this.currentTopics.decisions, decisionsPayload(this.stamp(), decisions))
  }

  /** A policy outcome (edge/control), spooled like an event so it is reported once the broker is back. */
  publishPolicyOutcome(body: Record<string, unknown>): Promise<void> {
    return this.send('event', this.currentTopics.policyOutcome, { v: PAYLOAD_VERSION, ...this.stamp(), ...body })
  }

  /** Publishes once, QoS 1, not spooled (replies to requests); rejects when not connected. */
  async publishNow(topic: string, payload: unknown, correlationData?: Buffer): Promise<void> {
    const connection = this.link.connection
    if (!connection) throw new Error('not connected to the broker')
    await connection.publish(topic, JSON.stringify(payload), { qos: 1, contentType: 'application/json', ...(correlationData ? { correlationData } : {}) })
  }

  /** Resolves when every record handed over so far is in the spool or on the wire. */
  settled(): Promise<void> {
    return this.delivery.settled()
  }

  /** The next record stamp: wall time, boot id, record number. */
  stamp(): RecordStamp {
    return { ts: new Date(this.clock.now()).toISOString(), boot: this.bootId, seq: ++this.seq }
  }

  private send(recordClass: RecordClass, topic: string, payload: unknown): Promise<void> {
    return this.delivery.send({ recordClass, topic, payload: JSON.stringify(payload), retain: false })
  }

  private statePayload(online: boolean, reason: StatePayload['reason']): StatePayload {
    return {
      v: PAYLOAD_VERSION,
      ts: new Date(this.clock.now()).toISOString(),
      boot: this.bootId,
      online,
      reason,
      firmware: this.options.firmware,
      serial: this.options.runningSerial(),
    }
  }

  private async connectRequest(): Promise<ConnectRequest> {
    const tls = this.settings.tls
    const read = this.options.readFile ?? (path => fsp.readFile(path))
    return {
      url: this.settings.broker,
      clientId: this.identity.device,
      ...(tls ? { tls: { ca: await read(tls.caFile), cert: await read(tls.certFile), key: await read(tls.keyFile) } } : {}),
      // The will is the retained "offline" state the broker publishes if we vanish (MQTT 5 §3.1.2.5).
      will: { topic: this.currentTopics.state, payload: JSON.stringify(this.statePayload(false, 'connection-lost')), retain: true, qos: 1 },
      keepaliveS: this.options.keepaliveS ?? 30,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
    }
  }

  private async birth(connection: MqttConnection): Promise<void> {
    const topics = this.currentTopics
    connection.onMessage(message => {
      for (const { filter, handler } of this.handlers) if (topicMatches(filter(topics), message.topic)) handler(message)
    })
    await connection.publish(topics.state, JSON.stringify(this.statePayload(true, 'birth')), { qos: 1, retain: true, contentType: 'application/json' })
    if (this.options.systemFacts !== null) {
      const facts = await collectFacts(this.options.systemFacts ?? systeminformationFacts)
      const inventory = inventoryPayload(facts, this.options.firmware, new Date(this.clock.now()).toISOString())
      await connection.publish(topics.inventory, JSON.stringify(inventory), { qos: 1, retain: true, contentType: 'application/json' })
    }
    const filters = [...new Set(this.handlers.map(h => h.filter(topics)))]
    if (filters.length > 0) await connection.subscribe(filters)
    this.delivery.attach(connection)
    this.lastError = null
    this.options.log?.info(`telemetry: connected to ${this.settings.broker} as ${this.identity.device}`)
    for (const listener of this.upListeners) listener(connection)
  }

  private lost(reason: string): void {
    void this.delivery.detach()
    this.noteError(new Error(reason))
    this.options.log?.warn(`telemetry: lost the broker: ${reason}`)
    for (const listener of this.downListeners) listener(reason)
  }

  private reportSpoolLosses(): void {
    const dropped = this.spool.stats.metricsDropped
    if (this.refusedSinceReport === 0 && dropped === this.droppedReported) return
    const data = { refused: this.refusedSinceReport, metricsDropped: dropped - this.droppedReported, maxBytes: this.spool.stats.maxBytes }
    this.refusedSinceReport = 0
    this.droppedReported = dropped
    void this.publishEvent({
      type: 'telemetry.spool-overflow',
      severity: data.refused > 0 ? 'error' : 'warning',
      message: `the spool bound (${data.maxBytes} bytes) was reached while the broker was away: ${data.metricsDropped} metrics dropped, ${data.refused} records refused`,
      data,
    })
  }

  private noteError(error: Error): void {
    this.lastError = error.message
  }
}
