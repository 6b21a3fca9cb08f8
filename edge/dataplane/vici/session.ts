// One VICI connection to charon. The README ("Commands") says there is no sequence number, so only one
// command may be in flight per connection: every exchange here runs through a FIFO, and replies are
// matched to the one exchange waiting. EVENT packets may arrive at any time (also between a request and its
// CMD_RESPONSE, which is how list-sas streams list-sa events) and go to the listener for their name.
import type { Duplex } from 'node:stream'
import { ViciConnectionError, ViciProtocolError, ViciUnknownCommandError, ViciUnknownEventError } from './errors.js'
import type { ViciMessage, ViciMessageInput } from './message.js'
import { decodePacket, encodePacket, FrameReader, type ViciPacket } from './packet.js'

/** Opens a connected byte stream to charon's VICI socket (a Unix socket in production, a fake in tests). */
export type ViciConnect = () => Promise<Duplex>

export type ViciEventListener = (message: ViciMessage, event: string) => void

type Reply = Extract<ViciPacket, { type: 'cmd-response' | 'cmd-unknown' | 'event-confirm' | 'event-unknown' }>

export class ViciSession {
  private readonly reader = new FrameReader()
  private readonly listeners = new Map<string, ViciEventListener>()
  private waiting: { resolve: (reply: Reply) => void; reject: (err: Error) => void } | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private failure: Error | undefined
  /** Settles (never rejects) with the reason once the connection is gone; reconnect logic waits on it. */
  readonly closed: Promise<Error>
  private markClosed!: (reason: Error) => void

  static async open(connect: ViciConnect): Promise<ViciSession> {
    let socket: Duplex
    try {
      socket = await connect()
    } catch (cause) {
      throw new ViciConnectionError(`cannot connect to charon's VICI socket: ${(cause as Error).message}`, { cause })
    }
    return new ViciSession(socket)
  }

  constructor(private readonly socket: Duplex) {
    this.closed = new Promise(resolve => (this.markClosed = resolve))
    socket.on('data', (chunk: Buffer) => this.receive(chunk))
    socket.on('error', err => this.fail(new ViciConnectionError(`VICI socket error: ${err.message}`, { cause: err })))
    socket.on('close', () => this.fail(new ViciConnectionError('charon closed the VICI connection')))
  }

  get isOpen(): boolean {
    return this.failure === undefined
  }

  /** Sends a command and resolves with its CMD_RESPONSE message. */
  request(command: string, message: ViciMessageInput = {}): Promise<ViciMessage> {
    return this.exclusive(() => this.command(command, message))
  }

  /**
   * A command whose results stream as `event` packets before the CMD_RESPONSE (list-sas → list-sa,
   * list-conns → list-conn, initiate → control-log). Per the README the client registers for the event,
   * issues the command, and unregisters after the response; all three run as one exclusive exchange so no
   * other command interleaves.
   */
  streamedRequest(command: string, message: ViciMessageInput, event: string, onEvent: ViciEventListener): Promise<ViciMessage> {
    return this.exclusive(async () => {
      await this.register(event, onEvent)
      try {
        return await this.command(command, message)
      } finally {
        if (this.isOpen) await this.unregister(event)
      }
    })
  }

  /** Registers a long-lived listener for an event (ike-updown, child-updown, log). */
  subscribe(event: string, onEvent: ViciEventListener): Promise<void> {
    return this.exclusive(() => this.register(event, onEvent))
  }

  unsubscribe(event: string): Promise<void> {
    return this.exclusive(() => this.unregister(event))
  }

  /** Closes the connection; pending and queued exchanges fail with ViciConnectionError. */
  close(): void {
    this.fail(new ViciConnectionError('VICI session closed by us'))
    this.socket.destroy()
  }

  private exclusive<T>(exchange: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failure) throw this.failure
      return exchange()
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  private async command(name: string, message: ViciMessageInput): Promise<ViciMessage> {
    const reply = await this.exchange({ type: 'cmd-request', name, message })
    if (reply.type === 'cmd-unknown') throw new ViciUnknownCommandError(name)
    if (reply.type !== 'cmd-response') throw this.violation(`charon answered ${reply.type} to command ${name}`)
    return reply.message
  }

  private async register(event: string, onEvent: ViciEventListener): Promise<void> {
    // Listen before the request leaves: the README allows events right after EVENT_CONFIRM.
    this.listeners.set(event, onEvent)
    try {
      const reply = await this.exchange({ type: 'event-register', name: event })
      if (reply.type === 'event-unknown') throw new ViciUnknownEventError(event)
      if (reply.type !== 'event-confirm') throw this.violation(`charon answered ${reply.type} to registering ${event}`)
    } catch (err) {
      this.listeners.delete(event)
      throw err
    }
  }

  private async unregister(event: string): Promise<void> {
    try {
      const reply = await this.exchange({ type: 'event-unregister', name: event })
      if (reply.type === 'event-unknown') throw new ViciUnknownEventError(event)
      if (reply.type !== 'event-confirm') throw this.violation(`charon answered ${reply.type} to unregistering ${event}`)
    } finally {
      this.listeners.delete(event)
    }
  }

  private exchange(packet: ViciPacket<ViciMessageInput>): Promise<Reply> {
    const bytes = encodePacket(packet) // throws ViciCodecError before anything is sent
    return new Promise<Reply>((resolve, reject) => {
      if (this.failure) return reject(this.failure)
      this.waiting = { resolve, reject }
      this.socket.write(bytes)
    })
  }

  private receive(chunk: Buffer): void {
    try {
      for (const frame of this.reader.push(chunk)) {
        const packet = decodePacket(frame)
        if (packet.type === 'event') {
          this.listeners.get(packet.name)?.(packet.message, packet.name)
        } else if (packet.type === 'cmd-request' || packet.type === 'event-register' || packet.type === 'event-unregister') {
          throw this.violation(`charon sent a client-side packet (${packet.type})`)
        } else {
          const waiting = this.waiting
          if (!waiting) throw this.violation(`unsolicited ${packet.type} from charon`)
          this.waiting = undefined
          waiting.resolve(packet)
        }
      }
    } catch (err) {
      // A stream we cannot parse cannot be resynchronised: drop the connection.
      this.fail(err as Error)
      this.socket.destroy()
    }
  }

  private violation(detail: string): ViciProtocolError {
    return new ViciProtocolError(`VICI protocol violation: ${detail}`)
  }

  private fail(reason: Error): void {
    if (this.failure) return
    this.failure = reason
    this.waiting?.reject(reason)
    this.waiting = undefined
    this.listeners.clear()
    this.markClosed(reason)
  }
}
