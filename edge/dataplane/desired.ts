// desired(policy, decisions, facts): the whole kernel state we want, as plain data. Pure.
import type { SitePolicy } from '../config/policy.js'
import { pathName } from '../config/policy.js'
import type { Decision, DesiredState, Facts, Route } from './model.js'
import { layout, type Layout } from './layout.js'
import { pathRoutes } from './routes.js'
import { classRules, uplinkSourceRules } from './rules.js'
import { renderNft } from './nft-ruleset.js'
import { greLinks, ipsecConns, vxlanLinks } from './tunnels.js'

// Memoised by argument identity (policies and facts are never mutated): re-steering calls desired()
// with the same policy and facts and new decisions, and gets back the very same route array and
// nft text, which diff() then skips without comparing.
const perPolicy = new WeakMap<SitePolicy, { l: Layout; nft: { text: string; digest: string }; routes: WeakMap<Facts, Route[]> }>()

function policyParts(policy: SitePolicy) {
  let p = perPolicy.get(policy)
  if (!p) {
    const l = layout(policy)
    perPolicy.set(policy, (p = { l, nft: renderNft(policy, l), routes: new WeakMap() }))
  }
  return p
}

export function desired(policy: SitePolicy, decisions: readonly Decision[], facts: Facts): DesiredState {
  const { l, nft, routes: routeMemo } = policyParts(policy)
  let routes = routeMemo.get(facts)
  if (!routes) routeMemo.set(facts, (routes = pathRoutes(policy, l, facts)))
  return {
    paths: l.paths,
    classes: l.classes,
    marks: l.marks,
    rules: [...uplinkSourceRules(policy, l, facts), ...classRules(policy, l, decisions)],
    routes,
    greLinks: greLinks(policy, facts),
    vxlanLinks: vxlanLinks(policy, facts),
    ipsecConns: ipsecConns(policy, facts),
    nft: nft.text,
    nftTable: policy.dataplane.nftTable,
    nftDigest: nft.digest,
  }
}

/**
 * The decisions before any probe has answered: every class on its first path (all its paths, by
 * weight, in weighted mode). What `sdwan-edge apply` programs.
 */
export function initialDecisions(policy: SitePolicy): Decision[] {
  return policy.classes.map(c => {
    const refs = c.mode === 'weighted' ? c.paths : c.paths.slice(0, 1)
    const active = refs.map(r => ({ path: pathName(r), weight: typeof r === 'string' ? 1 : (r.weight ?? 1) }))
    return { class: c.name, active, keep: active.map(a => a.path), reason: 'initial: first listed path' }
  })
}
