// Pipelined rtnetlink requests: many messages per sendmsg, each with its own sequence number and ACK.
//
// rtnetlink processes every message of a datagram in order inside the sending syscall
// (netlink_rcv_skb), answering each with an NLMSG_ERROR (errno 0 = ACK) and continuing after a
// failure. So a window of messages costs one syscall instead of one round trip each, and ordering is
// kept. The window stays well under what the default receive buffer (rmem_default) holds in ACKs,
// so no ACK is ever dropped (ENOBUFS).
import { formatMessage, type NetlinkMessage, type NetlinkSocket } from 'netlink'
import type { Request } from './codec.js'

const NLMSG_ERROR = 2
const NLM_F_REQUEST = 0x1
const NLM_F_ACK = 0x4
/** Messages per datagram; each ACK skb costs ~1 KiB of receive buffer truesize. */
export const WINDOW = 128

function pad4(parts: Uint8Array[]): Buffer {
  const b = Buffer.concat(parts)
  const padded = (b.length + 3) & ~3
  return padded === b.length ? b : Buffer.concat([b, Buffer.alloc(padded - b.length)])
}

export class RtnlTransport {
  private readonly pending = new Map<number, (errno: number) => void>()

  constructor(private readonly socket: NetlinkSocket) {
    // ACKs of our own sequence numbers arrive as unclaimed messages (we do not use request()).
    socket.on('message', (msgs: NetlinkMessage[]) => {
      for (const m of msgs) {
        if (m.type !== NLMSG_ERROR) continue
        const done = this.pending.get(m.seq)
        if (!done) continue
        this.pending.delete(m.seq)
        done(m.data.readInt32LE(0))
      }
    })
  }

  /** Sends the requests in order; resolves with each one's errno (0 = success), same order. */
  async exchange(requests: readonly Request[]): Promise<number[]> {
    const results: number[] = new Array(requests.length).fill(0)
    const port = this.socket.address().port
    this.socket.ref(true)
    try {
      for (let start = 0; start < requests.length; start += WINDOW) {
        const chunk = requests.slice(start, start + WINDOW)
        const waits: Array<Promise<void>> = []
        const bufs: Buffer[] = []
        const seqs: number[] = []
        chunk.forEach((r, i) => {
          const seq = this.socket.generateSeq()
          seqs.push(seq)
          waits.push(new Promise<void>(resolve => this.pending.set(seq, errno => ((results[start + i] = errno), resolve()))))
          bufs.push(pad4(formatMessage({ type: r.type, flags: r.flags | NLM_F_REQUEST | NLM_F_ACK, seq, port, data: r.payload })))
        })
        try {
          await new Promise<void>((resolve, reject) =>
            this.socket.socket.send(Buffer.concat(bufs), {}, err => (err ? reject(err) : resolve())),
          )
        } catch (err) {
          for (const seq of seqs) this.pending.delete(seq)
          throw err
        }
        await Promise.all(waits)
      }
    } finally {
      this.socket.ref(false)
    }
    return results
  }
}
