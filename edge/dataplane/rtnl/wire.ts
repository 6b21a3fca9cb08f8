// Netlink wire encoding for the hot path (rules and routes by the thousand): fixed headers and TLV
// attributes written straight into one Buffer, without the per-attribute objects of a generic
// encoder. Layouts: linux/netlink.h (nlmsghdr, nlattr), linux/fib_rules.h (fib_rule_hdr),
// linux/rtnetlink.h (rtmsg). Host byte order is little-endian on every target we build for.

export const NLMSG_HDRLEN = 16
const align4 = (n: number): number => (n + 3) & ~3

/** One netlink attribute (struct nlattr: u16 length, u16 type, value padded to 4 bytes) as its own Buffer. */
export function nlattr(type: number, value: Buffer): Buffer {
  const len = 4 + value.length
  const out = Buffer.alloc(align4(len))
  out.writeUInt16LE(len, 0)
  out.writeUInt16LE(type, 2)
  value.copy(out, 4)
  return out
}

/** Builds one message body (what follows nlmsghdr): a 12-byte family header, then attributes. */
export class BodyWriter {
  private buf = Buffer.alloc(128)
  private len = 0

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n))
    this.buf.copy(bigger, 0, 0, this.len)
    this.buf = bigger
  }

  bytes(b: Uint8Array): this {
    this.room(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
    return this
  }

  u8s(...values: number[]): this {
    this.room(values.length)
    for (const v of values) this.buf[this.len++] = v & 0xff
    return this
  }

  u32(v: number): this {
    this.room(4)
    this.buf.writeUInt32LE(v >>> 0, this.len)
    this.len += 4
    return this
  }

  /** An attribute (nla_len counts header and payload, not the padding that follows). */
  attr(type: number, payload: Uint8Array): this {
    const total = align4(4 + payload.length)
    this.room(total)
    this.buf.writeUInt16LE(4 + payload.length, this.len)
    this.buf.writeUInt16LE(type, this.len + 2)
    this.buf.set(payload, this.len + 4)
    this.buf.fill(0, this.len + 4 + payload.length, this.len + total)
    this.len += total
    return this
  }

  attrU32(type: number, v: number): this {
    this.room(8)
    this.buf.writeUInt16LE(8, this.len)
    this.buf.writeUInt16LE(type, this.len + 2)
    this.buf.writeUInt32LE(v >>> 0, this.len + 4)
    this.len += 8
    return this
  }

  attrU8(type: number, v: number): this {
    this.room(8)
    this.buf.writeUInt16LE(5, this.len)
    this.buf.writeUInt16LE(type, this.len + 2)
    this.buf.writeUInt32LE(v & 0xff, this.len + 4)
    this.len += 8
    return this
  }

  done(): Buffer {
    return this.buf.subarray(0, this.len)
  }
}

/** Writes a whole message (nlmsghdr + body, padded to 4) into `out` at `offset`; returns the next offset. */
export function writeMessage(out: Buffer, offset: number, type: number, flags: number, seq: number, port: number, body: Uint8Array): number {
  const len = NLMSG_HDRLEN + body.length
  out.writeUInt32LE(len, offset)
  out.writeUInt16LE(type, offset + 4)
  out.writeUInt16LE(flags, offset + 6)
  out.writeUInt32LE(seq >>> 0, offset + 8)
  out.writeUInt32LE(port >>> 0, offset + 12)
  out.set(body, offset + NLMSG_HDRLEN)
  const end = offset + align4(len)
  out.fill(0, offset + len, end)
  return end
}

export const messageSpace = (body: Uint8Array): number => align4(NLMSG_HDRLEN + body.length)
