// The fib rules we own. Pure.
//
// Lookup order (lower priority first, fib_rules_lookup): the box's own uplink-sourced traffic, then
// sticky (class|path) marks of existing flows, then the class's current path for new flows. A class
// rule always exists, pointing at the drop table when the class has nowhere to go, so classified
// traffic never reaches the main table's rules (fail closed).
import type { SitePolicy } from '../config/policy.js'
import type { Decision, Facts, FibRule } from './model.js'
import type { Layout } from './layout.js'
import { LayoutError } from './errors.js'
import { uplinkAddressing } from './addresses.js'
import { classValue, markValue } from './marks.js'
import { DROP_PATH } from './layout.js'

export function uplinkSourceRules(policy: SitePolicy, l: Layout, facts: Facts): FibRule[] {
  const rules: FibRule[] = []
  for (const path of l.paths) {
    if (path.kind !== 'direct') continue
    const u = policy.uplinks.find(x => x.name === path.uplink)
    if (!u) continue
    for (const a of uplinkAddressing(u, facts).addresses)
      rules.push({
        family: a.family,
        priority: l.priorities.uplinkSource,
        src: `${a.address}/${a.family === 4 ? 32 : 128}`,
        table: path.table,
        comment: `traffic from ${u.name}'s address stays on ${u.name}`,
      })
  }
  return rules
}

function tableOf(l: Layout, pathName: string, className: string): number {
  const p = l.paths.find(x => x.name === pathName)
  if (!p) throw new LayoutError(`decision for class '${className}' names unknown path '${pathName}'`)
  return p.table
}

export function classRules(policy: SitePolicy, l: Layout, decisions: readonly Decision[]): FibRule[] {
  const rules: FibRule[] = []
  for (const c of l.classes) {
    const cls = policy.classes.find(x => x.name === c.name)
    const d = decisions.find(x => x.class === c.name)
    const active = d?.active.map(a => a.path) ?? []
    // Weighted classes mark new flows class|path in nft, so every active path needs its sticky rule
    // even when the class is not sticky; priority classes keep existing flows only when sticky.
    const keepers = new Set<string>()
    if (cls?.failover.sticky !== false) for (const p of d?.keep ?? []) keepers.add(p)
    if (cls?.mode === 'weighted') for (const p of active) keepers.add(p)
    for (const name of [...keepers].sort((a, b) => tableOf(l, a, c.name) - tableOf(l, b, c.name))) {
      const path = l.paths.find(x => x.name === name)
      if (!path || path.kind === 'drop') continue
      for (const family of [4, 6] as const)
        rules.push({
          family,
          priority: l.priorities.sticky,
          fwmark: markValue(l.marks, c.id, path.id),
          fwmask: l.marks.mask,
          table: path.table,
          comment: `existing ${c.name} flows on ${name} stay there`,
        })
    }
    const first = active[0]
    const table = tableOf(l, first ?? DROP_PATH, c.name)
    for (const family of [4, 6] as const)
      rules.push({
        family,
        priority: l.priorities.classDefault,
        fwmark: classValue(l.marks, c.id),
        fwmask: l.marks.classMask,
        table,
        comment: first ? `new ${c.name} flows take ${first}` : `${c.name} has no path: dropped (${d ? d.reason : 'no decision'})`,
      })
  }
  return rules
}
