// IPv4/IPv6 addresses and prefixes as bigints, for containment and overlap checks. Pure.
import { isIP } from 'node:net'

export interface Prefix {
  family: 4 | 6
  /** Network address as an integer (host bits may be set when parsed from an interface address). */
  value: bigint
  length: number
}

const bits = (family: 4 | 6): number => (family === 4 ? 32 : 128)

function ipv4ToBigint(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
}

function ipv6ToBigint(text: string): bigint {
  let head = text
  let tailV4: bigint | undefined
  const lastColon = text.lastIndexOf(':')
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = ipv4ToBigint(text.slice(lastColon + 1))
    head = text.slice(0, lastColon + 1) + '0:0'
  }
  const [left = '', right] = head.split('::')
  const l = left ? left.split(':') : []
  const r = right !== undefined && right !== '' ? right.split(':') : []
  const fill = right === undefined ? [] : Array<string>(8 - l.length - r.length).fill('0')
  const groups = [...l, ...fill, ...r]
  let v = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n)
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4
  return v
}

/** Parses an address; undefined when it is not one. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(text)
  if (family === 4) return { family, value: ipv4ToBigint(text) }
  if (family === 6) return { family, value: ipv6ToBigint(text) }
  return undefined
}

/** Parses `addr/len` (or a bare address as a host prefix); undefined when malformed. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/')
  const addr = parseAddress(slash < 0 ? text : text.slice(0, slash))
  if (!addr) return undefined
  const lenText = slash < 0 ? String(bits(addr.family)) : text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(lenText)) return undefined
  const length = Number(lenText)
  if (length > bits(addr.family)) return undefined
  return { family: addr.family, value: addr.value, length }
}

const hostMask = (p: Prefix): bigint => (1n << BigInt(bits(p.family) - p.length)) - 1n

/** True when the prefix has bits set beyond its length (10.0.0.1/24). */
export const hasHostBits = (p: Prefix): boolean => (p.value & hostMask(p)) !== 0n

export function networkOf(p: Prefix): Prefix {
  return { ...p, value: p.value & ~hostMask(p) }
}

/** Does `outer` contain all of `inner`? */
export function contains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.length > inner.length) return false
  return (outer.value & ~hostMask(outer)) === (inner.value & ~hostMask(outer))
}

export const overlaps = (a: Prefix, b: Prefix): boolean => contains(a, b) || contains(b, a)

export function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map(s => String((value >> s) & 0xffn)).join('.')
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn))
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i]
    i = j
  }
  const hex = groups.map(g => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

export const formatPrefix = (p: Prefix): string => `${formatAddress(p.family, p.value)}/${p.length}`
