// Which class a DNS name belongs to, by the classes' `domains` selectors in policy order (the first
// class that lists a matching pattern takes it, as for every other selector). Pure.
import type { SitePolicy } from '../../config/policy.js'

/** 'example.com' matches itself; '*.example.com' matches its subdomains, not example.com itself. */
export function domainMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase()
  const n = name.toLowerCase().replace(/\.$/, '')
  if (p.startsWith('*.')) return n.endsWith(p.slice(1)) && n.length > p.length - 1
  return n === p
}

/** The first class (policy order) with a domain pattern matching any of `names`. */
export function classForNames(policy: SitePolicy, names: readonly string[]): string | undefined {
  for (const cls of policy.classes)
    for (const sel of cls.match) if (sel.domains?.some(p => names.some(n => domainMatches(p, n)))) return cls.name
  return undefined
}

export const policyHasDomains = (policy: SitePolicy): boolean => policy.classes.some(c => c.match.some(s => s.domains?.length))
