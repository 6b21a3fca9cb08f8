// An in-memory VICI peer for session tests: decodes what the client writes and answers like charon's vici
// plugin does (EVENT_CONFIRM for registrations, streamed EVENTs to registered clients, then CMD_RESPONSE).
import { Duplex } from 'node:stream'
import type { ViciMessage, ViciMessageInput } from '../../../../../edge/dataplane/vici/message.js'
import { decodePacket, encodePacket, FrameReader, type ViciPacket } from '../../../../../edge/dataplane/vici/packet.js'

export interface CommandScript {
  /** Events to stream before the response; sent only if the client registered for them, as charon does. */
  readonly stream?: ReadonlyArray<{ readonly event: string; readonly message: ViciMessageInput }>
  readonly response: ViciMessageInput
}

export type CommandHandler = (message: ViciMessage) => CommandScript | 'unknown' | 'hold'

export class FakeCharon {
  readonly received: ViciPacket[] = []
  readonly registered = new Set<string>()
  /** Commands answered with 'hold' wait here until released. */
  readonly held: Array<() => void> = []
  readonly socket: Duplex
  private readonly reader = new FrameReader()

  constructor(
    private readonly commands: Record<string, CommandHandler>,
    private readonly knownEvents: readonly string[] = ['ike-updown', 'child-updown', 'list-sa', 'list-conn', 'control-log'],
  ) {
    const self = this
    this.socket = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        for (const frame of self.reader.push(chunk)) self.handle(decodePacket(frame))
        done()
      },
    })
  }

  /** Sends a packet as charon would, e.g. an event between commands. */
  send(packet: ViciPacket<ViciMessageInput>): void {
    this.socket.push(encodePacket(packet))
  }

  sendRaw(bytes: Buffer): void {
    this.socket.push(bytes)
  }

  /** charon went away: the stream ends and closes. */
  hangUp(): void {
    this.socket.push(null)
    this.socket.destroy()
  }

  private handle(packet: ViciPacket): void {
    this.received.push(packet)
    switch (packet.type) {
      case 'event-register':
      case 'event-unregister':
        if (!this.knownEvents.includes(packet.name)) return this.send({ type: 'event-unknown' })
        if (packet.type === 'event-register') this.registered.add(packet.name)
        else this.registered.delete(packet.name)
        return this.send({ type: 'event-confirm' })
      case 'cmd-request': {
        const handler = this.commands[packet.name]
        const script = handler ? handler(packet.message) : 'unknown'
        if (script === 'unknown') return this.send({ type: 'cmd-unknown' })
        if (script === 'hold') {
          this.held.push(() => this.send({ type: 'cmd-response', message: { success: 'yes' } }))
          return
        }
        for (const { event, message } of script.stream ?? []) {
          if (this.registered.has(event)) this.send({ type: 'event', name: event, message })
        }
        return this.send({ type: 'cmd-response', message: script.response })
      }
      default:
        throw new Error(`fake charon got a server-side packet ${packet.type}`)
    }
  }
}
