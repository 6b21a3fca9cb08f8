// Does an earlier class's selector take every flow a later selector would match? Then the later one
// can never match (classes are first-match). Pure; errs on the side of "not covered" where unsure.
import { contains, parsePrefix } from '../net/prefix.js'
import type { Selector } from './policy.js'

export function portRange(spec: number | string): [number, number] {
  if (typeof spec === 'number') return [spec, spec]
  const [lo, hi] = spec.split('-').map(Number)
  return [lo!, hi!]
}

const prefixesCover = (outer: string[], inner: string[]): boolean =>
  inner.every(i => {
    const ip = parsePrefix(i)
    return ip !== undefined && outer.some(o => {
      const op = parsePrefix(o)
      return op !== undefined && contains(op, ip)
    })
  })

const portsCover = (outer: Array<number | string>, inner: Array<number | string>): boolean =>
  inner.every(i => {
    const [ilo, ihi] = portRange(i)
    return outer.some(o => {
      const [olo, ohi] = portRange(o)
      return olo <= ilo && ihi <= ohi
    })
  })

/** '*.example.com' covers 'pos.example.com' and '*.pay.example.com'; a name covers only itself. */
const domainCovers = (outer: string, inner: string): boolean =>
  outer === inner || (outer.startsWith('*.') && inner.endsWith(outer.slice(1)))

const domainsCover = (outer: string[], inner: string[]): boolean => inner.every(i => outer.some(o => domainCovers(o, i)))

const subset = <T>(outer: T[], inner: T[]): boolean => inner.every(i => outer.includes(i))

/**
 * True when every flow matched by `inner` is also matched by `outer`: each field `outer` constrains
 * must be constrained at least as tightly by `inner`.
 */
export function selectorCovers(outer: Selector, inner: Selector): boolean {
  if (outer.segments && !(inner.segments && subset(outer.segments, inner.segments))) return false
  if (outer.dscp && !(inner.dscp && subset(outer.dscp, inner.dscp))) return false
  if (outer.protocol && inner.protocol !== outer.protocol) return false
  if (outer.ports && !(inner.ports && portsCover(outer.ports, inner.ports))) return false
  if (outer.sourcePrefixes && !(inner.sourcePrefixes && prefixesCover(outer.sourcePrefixes, inner.sourcePrefixes))) return false
  if (outer.destinationPrefixes) {
    if (!(inner.destinationPrefixes && prefixesCover(outer.destinationPrefixes, inner.destinationPrefixes))) return false
  }
  // Domain selectors match on addresses learned at run time, which can be anything: only a domain
  // selector can be compared with another.
  if (outer.domains && !(inner.domains && domainsCover(outer.domains, inner.domains))) return false
  return true
}
