// STAMP integrity protection (RFC 8762 §4.4): HMAC-SHA-256 truncated to 128 bits, carried in the last 16
// octets of the 112-octet base packet (offset 96) and computed over every octet before it. Padding past
// the base packet is not covered, as in RFC 8762 §4.2.2/§4.3.2 where the HMAC ends the base layout.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const HMAC_OFFSET = 96
export const HMAC_LENGTH = 16

function mac(buf: Buffer, key: Buffer): Buffer {
  return createHmac('sha256', key).update(buf.subarray(0, HMAC_OFFSET)).digest().subarray(0, HMAC_LENGTH)
}

/** Writes the HMAC of octets 0..95 into octets 96..111. `buf` must be ≥ 112 octets. */
export function authenticate(buf: Buffer, key: Buffer): void {
  mac(buf, key).copy(buf, HMAC_OFFSET)
}

/** Constant-time check of the HMAC field (a timing leak would help forge replies). */
export function verify(buf: Buffer, key: Buffer): boolean {
  if (buf.length < HMAC_OFFSET + HMAC_LENGTH) return false
  return timingSafeEqual(mac(buf, key), buf.subarray(HMAC_OFFSET, HMAC_OFFSET + HMAC_LENGTH))
}
