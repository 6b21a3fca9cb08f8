// Keeps one MQTT connection to the broker up: connects, and after a failure or a loss waits a capped,
// jittered, exponentially growing delay (backoff.ts) and tries again, for as long as it runs. The
// connect request is built fresh for every attempt, so a reconfigured broker or a new will timestamp
// takes effect on the next one.
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffSettings } from './backoff.js'
import type { ConnectMqtt, ConnectRequest, MqttConnection } from './mqtt-port.js'
import type { Timers } from './timers.js'

export interface BrokerLinkOptions {
  readonly connect: ConnectMqtt
  readonly request: () => Promise<ConnectRequest>
  readonly timers: Timers
  readonly random: () => number
  readonly backoff?: BackoffSettings
  /** The connection is up; the link counts it as established once this resolves. */
  readonly onUp: (connection: MqttConnection) => Promise<void>
  /** A connection handed to onUp ended (possibly while onUp was still running). */
  readonly onDown: (reason: string) => void
  /** An attempt failed; the next one comes after `retryInMs`. */
  readonly onAttemptFailed?: (error: Error, retryInMs: number) => void
}

export type LinkState = 'idle' | 'connecting' | 'up' | 'waiting' | 'stopped'

export class BrokerLink {
  private state: LinkState = 'idle'
  private attempt = 0
  private retryTimer: unknown
  private current: MqttConnection | undefined
  /** Bumped on stop/restart so callbacks of an abandoned attempt do nothing. */
  private generation = 0

  constructor(private readonly options: BrokerLinkOptions) {}

  get linkState(): LinkState {
    return this.state
  }

  get connection(): MqttConnection | undefined {
    return this.state === 'up' ? this.current : undefined
  }

  start(): void {
    if (this.state !== 'idle' && this.state !== 'stopped') return
    this.generation++
    this.attempt = 0
    void this.tryConnect(this.generation)
  }

  /** Skips a pending backoff wait and tries now (e.g. the `flush spool` command, a new policy). */
  retryNow(): void {
    if (this.state !== 'waiting') return
    this.options.timers.clearTimeout(this.retryTimer)
    this.attempt = 0
    void this.tryConnect(this.generation)
  }

  /** Ends the connection in order (the broker drops the will) and stops retrying. */
  async stop(beforeDisconnect?: (connection: MqttConnection) => Promise<void>): Promise<void> {
    // The live connection even while its birth and subscriptions are still going out: a stop in that
    // window must still say goodbye and close it, not leave the socket open and the state 'online'.
    const connection = this.current
    this.generation++
    this.state = 'stopped'
    this.options.timers.clearTimeout(this.retryTimer)
    this.current = undefined
    if (connection) {
      if (beforeDisconnect) await beforeDisconnect(connection).catch(() => undefined)
      await connection.end()
    }
  }

  private async tryConnect(generation: number): Promise<void> {
    this.state = 'connecting'
    let connection: MqttConnection
    try {
      connection = await this.options.connect(await this.options.request())
    } catch (error) {
      if (generation === this.generation) this.scheduleRetry(generation, asError(error))
      return
    }
    if (generation !== this.generation) {
      connection.destroy()
      return
    }
    let lost = false
    connection.onClose(reason => {
      lost = true
      if (generation !== this.generation || this.current !== connection) return
      this.current = undefined
      this.options.onDown(reason)
      this.scheduleRetry(generation, new Error(reason))
    })
    this.current = connection
    try {
      await this.options.onUp(connection)
    } catch (error) {
      // Birth or subscriptions failed: the session is useless; drop it and retry like any loss.
      if (generation === this.generation && !lost) {
        this.current = undefined
        connection.destroy()
        this.scheduleRetry(generation, asError(error))
      }
      return
    }
    if (generation !== this.generation || lost) return
    this.state = 'up'
    this.attempt = 0
  }

  private scheduleRetry(generation: number, error: Error): void {
    const delay = backoffDelayMs(this.attempt++, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random)
    this.state = 'waiting'
    this.options.onAttemptFailed?.(error, delay)
    this.retryTimer = this.options.timers.setTimeout(() => {
      if (generation === this.generation) void this.tryConnect(generation)
    }, delay)
  }
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)))
