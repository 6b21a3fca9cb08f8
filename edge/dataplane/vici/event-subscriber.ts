// Long-lived VICI event subscriptions (ike-updown, child-updown) on a connection of their own, as the
// DESIGN notes ask: events on the command connection would interleave with streamed command results.
// charon drops every VICI connection when it exits, and a restarted charon knows nothing of our
// registrations, so after each disconnect we reconnect (capped backoff) and register again.
import type { ViciMessage } from './message.js'
import { cancellableSleep, cappedBackoffMs, type BackoffPolicy, type Timers } from './retry.js'
import { ViciSession, type ViciConnect } from './session.js'

export interface ViciEventSubscriberOptions {
  readonly connect: ViciConnect
  readonly events: readonly string[]
  readonly onEvent: (event: string, message: ViciMessage) => void
  /** Every time all events are registered on a fresh connection; `generation` counts connections (1, 2, …). */
  readonly onRegistered?: (generation: number) => void
  /** A connection attempt failed or an established connection was lost; `retryInMs` until the next try. */
  readonly onDisconnected?: (reason: Error, retryInMs: number) => void
  readonly timers: Timers
  readonly backoff: BackoffPolicy
}

export class ViciEventSubscriber {
  private running = false
  private session: ViciSession | undefined
  private sleeping: { cancel: () => void } | undefined
  private loop: Promise<void> = Promise.resolve()
  private generation = 0

  constructor(private readonly options: ViciEventSubscriberOptions) {}

  /** Starts connecting in the background; registration is reported through onRegistered. */
  start(): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Stops reconnecting and closes the connection; resolves once the background loop has ended. */
  async stop(): Promise<void> {
    this.running = false
    this.sleeping?.cancel()
    this.session?.close()
    await this.loop
  }

  get connected(): boolean {
    return this.session?.isOpen ?? false
  }

  private async run(): Promise<void> {
    let attempt = 0
    while (this.running) {
      let reason: Error
      try {
        const session = await ViciSession.open(this.options.connect)
        this.session = session
        if (!this.running) break
        for (const event of this.options.events) {
          await session.subscribe(event, message => this.options.onEvent(event, message))
        }
        attempt = 0
        this.options.onRegistered?.(++this.generation)
        reason = await session.closed
      } catch (err) {
        reason = err as Error
        this.session?.close()
      }
      if (!this.running) break
      const delay = cappedBackoffMs(attempt++, this.options.backoff)
      this.options.onDisconnected?.(reason, delay)
      const sleep = cancellableSleep(this.options.timers, delay)
      this.sleeping = sleep
      await sleep.done
      this.sleeping = undefined
    }
    this.session?.close()
    this.session = undefined
  }
}
