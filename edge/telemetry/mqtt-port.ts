// The MQTT connection as the telemetry and control code see it: one established MQTT 5 session, no
// reconnect logic of its own (BrokerLink owns that). mqtt-js-connection.ts is the real one over MQTT.js;
// tests may pass their own.

export interface ReceivedMessage {
  readonly topic: string
  readonly payload: Buffer
  /** MQTT 5 Response Topic (§3.3.2.3.5): where the sender wants the reply. */
  readonly responseTopic?: string
  /** MQTT 5 Correlation Data (§3.3.2.3.6): echoed in the reply so the sender can match it. */
  readonly correlationData?: Buffer
}

export interface PublishOptions {
  readonly qos: 0 | 1
  readonly retain?: boolean
  readonly correlationData?: Buffer
  /** MQTT 5 Content Type (§3.3.2.3.9). */
  readonly contentType?: string
}

export interface MqttConnection {
  /** QoS 1 resolves on PUBACK and rejects when the broker refuses (reason code ≥ 0x80) or the connection ends first. */
  publish(topic: string, payload: string, options: PublishOptions): Promise<void>
  /** Rejects when the broker grants none of the filters (SUBACK reason code ≥ 0x80, MQTT 5 §3.9.3). */
  subscribe(filters: readonly string[]): Promise<void>
  onMessage(handler: (message: ReceivedMessage) => void): void
  /** Called once when the connection ends, whoever ended it. */
  onClose(handler: (reason: string) => void): void
  /** Orderly DISCONNECT (reason 0x00): the broker discards the will (MQTT 5 §3.14.4). */
  end(): Promise<void>
  /** Drops the socket without DISCONNECT: the broker publishes the will. */
  destroy(): void
}

export interface WillMessage {
  readonly topic: string
  readonly payload: string
  readonly retain: boolean
  readonly qos: 0 | 1
}

export interface ConnectRequest {
  /** mqtt://, mqtts://, ws:// or wss:// URL from the policy's telemetry.broker. */
  readonly url: string
  readonly clientId: string
  /** Mutual TLS: the CA that signed the broker's certificate, and the device's certificate and key (PEM). */
  readonly tls?: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer }
  readonly will: WillMessage
  readonly keepaliveS: number
  readonly connectTimeoutMs: number
}

/** Opens one connection; rejects if the TCP/TLS handshake or CONNACK fails or times out. */
export type ConnectMqtt = (request: ConnectRequest) => Promise<MqttConnection>

export class MqttConnectionLost extends Error {
  override readonly name = 'MqttConnectionLost'
}

export class MqttRefused extends Error {
  override readonly name = 'MqttRefused'
  constructor(
    message: string,
    /** MQTT 5 reason code (§2.4), when the broker sent one. */
    readonly reasonCode?: number,
  ) {
    super(message)
  }
}
