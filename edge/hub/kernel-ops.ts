// From the hub plan's rules and routes and what the kernel holds in the hub's ranges to the rtnetlink
// operations between them (the edge's KernelOp vocabulary and object keys, dataplane/ops.ts). Pure.
// Order: routes before the rules that lead to them, deletes of rules before the routes they led to.
import type { FibRule, Route } from '../dataplane/model.js'
import { routeBody, routeKey, ruleKey, type KernelOp } from '../dataplane/ops.js'

export function hubKernelOps(want: { rules: readonly FibRule[]; routes: readonly Route[] }, have: { rules: readonly FibRule[]; routes: readonly Route[] }): KernelOp[] {
  const haveRoutes = new Map(have.routes.map(r => [routeKey(r), r]))
  const wantRoutes = new Map(want.routes.map(r => [routeKey(r), r]))
  const haveRules = new Set(have.rules.map(ruleKey))
  const wantRules = new Set(want.rules.map(ruleKey))
  const ops: KernelOp[] = []
  for (const [key, r] of wantRoutes) {
    const h = haveRoutes.get(key)
    if (!h) ops.push({ kind: 'add-route', route: r })
    else if (routeBody(h) !== routeBody(r)) ops.push({ kind: 'replace-route', route: r })
  }
  for (const r of want.rules) if (!haveRules.has(ruleKey(r))) ops.push({ kind: 'add-rule', rule: r })
  for (const r of have.rules) if (!wantRules.has(ruleKey(r))) ops.push({ kind: 'del-rule', rule: r })
  for (const [key, r] of haveRoutes) if (!wantRoutes.has(key)) ops.push({ kind: 'del-route', route: r })
  return ops
}
