// An in-memory MqttConnection and ConnectMqtt for unit tests: records publishes, acknowledges them at
// once or holds them until told, and can be dropped like a lost TCP session.
import { MqttConnectionLost, MqttRefused, type ConnectMqtt, type ConnectRequest, type MqttConnection, type PublishOptions, type ReceivedMessage } from '../../../../edge/telemetry/mqtt-port.js'

export interface FakePublish {
  readonly topic: string
  readonly payload: string
  readonly options: PublishOptions
}

export class FakeConnection implements MqttConnection {
  readonly published: FakePublish[] = []
  readonly subscriptions: string[] = []
  private readonly held: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  private readonly closeHandlers: Array<(reason: string) => void> = []
  private messageHandler: ((m: ReceivedMessage) => void) | undefined
  closed = false
  /** Hold PUBACKs until ackHeld(); otherwise acknowledge at once. */
  holdAcks = false
  /** Topics the "broker" refuses with 0x87. */
  refuse = new Set<string>()

  constructor(readonly request: ConnectRequest) {}

  publish(topic: string, payload: string, options: PublishOptions): Promise<void> {
    if (this.closed) return Promise.reject(new MqttConnectionLost('closed'))
    this.published.push({ topic, payload, options })
    if (this.refuse.has(topic)) return Promise.reject(new MqttRefused('Not authorized', 0x87))
    if (!this.holdAcks) return Promise.resolve()
    return new Promise((resolve, reject) => this.held.push({ resolve, reject }))
  }

  ackHeld(count = this.held.length): void {
    for (const h of this.held.splice(0, count)) h.resolve()
  }

  async subscribe(filters: readonly string[]): Promise<void> {
    this.subscriptions.push(...filters)
  }

  onMessage(handler: (m: ReceivedMessage) => void): void {
    this.messageHandler = handler
  }

  deliver(message: ReceivedMessage): void {
    this.messageHandler?.(message)
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler)
  }

  async end(): Promise<void> {
    this.drop('ended')
  }

  destroy(): void {
    this.drop('destroyed')
  }

  drop(reason = 'connection reset'): void {
    if (this.closed) return
    this.closed = true
    for (const h of this.held.splice(0)) h.reject(new MqttConnectionLost(reason))
    for (const handler of this.closeHandlers) handler(reason)
  }
}

/** A broker that is up or down; every successful connect is kept in `connections`. */
export class FakeBroker {
  readonly connections: FakeConnection[] = []
  up = true
  attempts = 0
  holdAcks = false

  readonly connect: ConnectMqtt = async request => {
    this.attempts++
    if (!this.up) throw new MqttConnectionLost('ECONNREFUSED')
    const connection = new FakeConnection(request)
    connection.holdAcks = this.holdAcks
    this.connections.push(connection)
    return connection
  }

  get current(): FakeConnection | undefined {
    const last = this.connections[this.connections.length - 1]
    return last && !last.closed ? last : undefined
  }

  /** Every payload published on any connection, in order. */
  payloads(filter: (p: FakePublish) => boolean = () => true): string[] {
    return this.connections.flatMap(c => c.published.filter(filter).map(p => p.payload))
  }
}
