// Pipelined rtnetlink requests: many messages per sendmsg, one ACK per window.
//
// rtnetlink processes every message of a datagram in order inside the sending syscall
// (netlink_rcv_skb), continuing after a failure. It answers a message only when it asks for an ACK
// (NLM_F_ACK) or when it failed (netlink_ack is sent for any error). So only the window's last
// message asks for an ACK: when that ACK arrives, every earlier message of the window has been
// processed and its error, if any, is already in our socket ahead of it. A window costs one syscall
// and one reply instead of a round trip per message. Errors carry the failed request back
// (no NETLINK_CAP_ACK), so the window stays well under what the default receive buffer holds.
import type { NetlinkMessage, NetlinkSocket } from 'netlink'
import { messageSpace, writeMessage } from './wire.js'
import type { Request } from './codec.js'

const NLMSG_ERROR = 2
const NLM_F_REQUEST = 0x1
const NLM_F_ACK = 0x4
/**
 * Messages per datagram. A failed message's error reply carries the request back and costs ~1 KiB
 * of receive-buffer truesize; 128 of them stay well inside rmem_default (208 KiB), so a window in
 * which everything fails (a whole table through a link that just went down) loses no reply.
 */
export const WINDOW = 128

/** The window's ACK never came (a lost reply would otherwise hang the apply forever). */
export class TransportError extends Error {
  override readonly name = 'TransportError'
  constructor(readonly code: string, message: string) {
    super(message)
  }
}

export class RtnlTransport {
  /** seq → what to do with its NLMSG_ERROR (errors for any message, the ACK for a window's last). */
  private readonly pending = new Map<number, (errno: number) => void>()
  private abortWindow: ((err: Error) => void) | undefined

  constructor(
    private readonly socket: NetlinkSocket,
    private readonly timeoutMs = 5000,
  ) {
    // Replies to our own sequence numbers arrive as unclaimed messages (we do not use request()).
    socket.on('message', (msgs: NetlinkMessage[]) => {
      for (const m of msgs) {
        if (m.type !== NLMSG_ERROR) continue
        const done = this.pending.get(m.seq)
        if (!done) continue
        this.pending.delete(m.seq)
        done(m.data.readInt32LE(0))
      }
    })
    // ENOBUFS on receive means replies were dropped: the window's outcome is unknown.
    socket.on('error', err => this.abortWindow?.(new TransportError(err.code ?? 'EIO', `rtnetlink receive failed: ${err.message}`)))
  }

  /** Sends the requests in order; resolves with each one's errno (0 = success), same order. */
  async exchange(requests: readonly Request[]): Promise<number[]> {
    const results: number[] = new Array(requests.length).fill(0)
    const port = this.socket.address().port
    this.socket.ref(true)
    try {
      for (let start = 0; start < requests.length; start += WINDOW) {
        const chunk = requests.slice(start, start + WINDOW)
        const bodies = chunk.map(r => (Array.isArray(r.payload) ? Buffer.concat(r.payload) : r.payload))
        const datagram = Buffer.alloc(bodies.reduce((n, b) => n + messageSpace(b), 0))
        let offset = 0
        const seqs: number[] = []
        let acked!: () => void
        let aborted!: (err: Error) => void
        const windowDone = new Promise<void>((resolve, reject) => ((acked = resolve), (aborted = reject)))
        chunk.forEach((r, i) => {
          const seq = this.socket.generateSeq()
          seqs.push(seq)
          const last = i === chunk.length - 1
          this.pending.set(seq, last ? errno => ((results[start + i] = errno), acked()) : errno => (results[start + i] = errno))
          offset = writeMessage(datagram, offset, r.type, r.flags | NLM_F_REQUEST | (last ? NLM_F_ACK : 0), seq, port, bodies[i]!)
        })
        this.abortWindow = aborted
        const timer = setTimeout(() => aborted(new TransportError('ETIMEDOUT', `no rtnetlink ACK within ${this.timeoutMs} ms`)), this.timeoutMs)
        try {
          await new Promise<void>((resolve, reject) => this.socket.socket.send(datagram, {}, err => (err ? reject(err) : resolve())))
          await windowDone
        } finally {
          clearTimeout(timer)
          this.abortWindow = undefined
          // No reply before the window's ACK means success; nothing may linger past the window.
          for (const seq of seqs) this.pending.delete(seq)
        }
      }
    } finally {
      this.socket.ref(false)
    }
    return results
  }
}
