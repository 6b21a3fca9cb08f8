// Our rules and routes in iproute2's own words (`ip rule` / `ip route` arguments), for plans, logs and
// the `ip -batch` reference in the benchmark. Pure.
import type { FibRule, Route } from './model.js'
import { hex32 } from './marks.js'

/** `ip -4 rule add` arguments (without the verb): a network engineer can paste it. */
export function ruleArgs(rule: FibRule): string {
  const selector =
    rule.src ? `from ${rule.src}`
    : rule.fwmark !== undefined ? `fwmark ${hex32(rule.fwmark)}/${hex32(rule.fwmask ?? 0xffffffff)}`
    : 'from all'
  return `priority ${rule.priority} ${selector} lookup ${rule.table}`
}

/** `ip -4 route add` arguments (without the verb). */
export function routeArgs(route: Route, protocol?: number): string {
  const dst = route.dst === '0.0.0.0/0' || route.dst === '::/0' ? 'default' : route.dst
  const parts = [route.type === 'blackhole' ? `blackhole ${dst}` : dst]
  if (route.gateway) parts.push(`via ${route.gateway}`)
  if (route.device) parts.push(`dev ${route.device}`)
  parts.push(`table ${route.table}`)
  if (protocol !== undefined) parts.push(`proto ${protocol}`)
  parts.push(`metric ${route.metric}`)
  return parts.join(' ')
}
