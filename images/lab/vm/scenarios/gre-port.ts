// Runs inside the lab VM (the host kernel has no GRE), as root inside a throwaway network namespace:
//   ip netns add grep && ip netns exec grep node --import tsx images/lab/vm/scenarios/gre-port.ts
// The real KernelPort (rtnetlink) on GRE and ip6gre links: created with routes through them, dumped and
// decoded back equal to what was asked, added again (EEXIST is success), changed (key, TTL, MTU: diff
// asks for a replacement and the kernel then holds the new link), removed, and removed again.
// Prints LAB-CHECK lines (scenario-checks.ts); exits 1 if one failed.
import { spawnSync } from 'node:child_process'
import { diff } from '../../../../edge/dataplane/diff.js'
import type { DesiredState, GreLink, Route } from '../../../../edge/dataplane/model.js'
import { describeOp, greBody, type KernelOp } from '../../../../edge/dataplane/ops.js'
import { RtnlKernelPort } from '../../../../edge/dataplane/rtnl/port.js'
import { DEFAULT_OWNERSHIP } from '../../../../edge/dataplane/session.js'
import { checkReporter } from '../scenario-checks.js'

const ip = (...args: string[]): void => {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}
ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'far0')
ip('link', 'set', 'up0', 'up')
ip('link', 'set', 'far0', 'up')
ip('addr', 'add', '203.0.113.2/24', 'dev', 'up0')
ip('addr', 'add', '2001:db8::2/64', 'dev', 'up0', 'nodad')

const checks = checkReporter()
const check = checks.report
const errors = (results: Array<Error | undefined>): string => results.filter(e => e !== undefined).map(e => e.message).join('; ') || 'none'

// Only the links matter here: the same digest on both sides keeps nft out of the diff.
const stateWith = (greLinks: GreLink[], routes: Route[]): DesiredState => ({
  paths: [], classes: [], marks: { mask: 0, classMask: 0, classShift: 0, pathMask: 0, pathShift: 0 },
  rules: [], routes, greLinks, vxlanLinks: [], ipsecConns: [], nft: '', nftTable: DEFAULT_OWNERSHIP.nftTable, nftDigest: 'links-only',
})
// Every field the kernel holds, in one order whatever order the object's keys were written in.
const sortedLinks = (links: GreLink[]) => links.map(l => `${l.name}|${greBody(l)}`).sort().join('\n')

const port = new RtnlKernelPort(DEFAULT_OWNERSHIP)
try {
  const links: GreLink[] = [
    { kind: 'gre', name: 'sw-dc1', local: '203.0.113.2', remote: '203.0.113.10', key: 42, ttl: 64, mtu: 1472, innerAddresses: ['10.255.42.10/30'] },
    { kind: 'ip6gre', name: 'sw-dc2', local: '2001:db8::2', remote: '2001:db8::10', ttl: 64, mtu: 1456, innerAddresses: ['10.255.43.10/30'] },
  ]
  const routes: Route[] = links.map((l, i) => ({ family: 4, table: 1004 + i, dst: '10.0.0.0/8', type: 'unicast', device: l.name, metric: 100, comment: '' }))
  const add = await port.apply([...links.map((link): KernelOp => ({ kind: 'add-gre', link })), ...routes.map((route): KernelOp => ({ kind: 'add-route', route }))])
  check('gre-port-add', add.every(e => !e), `gre key 42 and ip6gre links, a route through each; errors: ${errors(add)}`)

  const dumped = await port.dump()
  check('gre-port-dump', sortedLinks(dumped.greLinks) === sortedLinks(links), `decoded back: ${JSON.stringify(dumped.greLinks)}`)
  const through = routes.every(r => dumped.routes.some(x => x.table === r.table && x.device === r.device))
  check('gre-port-routes', through, `routes through the links dumped as ours: ${dumped.routes.map(r => `${r.table} ${r.dst} dev ${r.device}`).join(', ')}`)

  const again = await port.apply(links.map((link): KernelOp => ({ kind: 'add-gre', link })))
  const noOps = diff(stateWith(links, routes), { ...(await port.dump()), nftDigest: 'links-only' }, DEFAULT_OWNERSHIP.nftTable)
  check('gre-port-idempotent', again.every(e => !e) && noOps.length === 0, `adding again: errors ${errors(again)}; diff against the kernel: ${noOps.length} ops`)

  // Key, TTL and MTU changed on the IPv4 link, key added and TTL changed on the ip6gre one.
  const changed: GreLink[] = [
    { ...links[0]!, key: 43, ttl: 32, mtu: 1400 },
    { ...links[1]!, key: 7, ttl: 200 },
  ]
  // Deleting the old link takes its routes along: diff adds them again after the new link.
  const ops = diff(stateWith(changed, routes), { ...(await port.dump()), nftDigest: 'links-only' }, DEFAULT_OWNERSHIP.nftTable)
  const replaced = await port.apply(ops as KernelOp[])
  const afterChange = await port.dump()
  const kinds = ops.map(o => o.kind).join(' ')
  const routesBack = routes.every(r => afterChange.routes.some(x => x.table === r.table && x.device === r.device))
  check(
    'gre-port-change',
    kinds === 'del-gre add-gre del-gre add-gre add-route add-route' && replaced.every(e => !e) && sortedLinks(afterChange.greLinks) === sortedLinks(changed) && routesBack,
    `ops: ${ops.map(describeOp).join('; ')}; errors: ${errors(replaced)}; now: ${JSON.stringify(afterChange.greLinks)}; routes through them ${routesBack ? 'back' : 'missing'}`,
  )

  const del = await port.apply(changed.map((link): KernelOp => ({ kind: 'del-gre', link })))
  const left = await port.dump()
  const twice = await port.apply(changed.map((link): KernelOp => ({ kind: 'del-gre', link })))
  check(
    'gre-port-remove',
    del.every(e => !e) && left.greLinks.length === 0 && left.routes.length === 0 && twice.every(e => !e),
    `deleted (errors: ${errors(del)}); left: ${left.greLinks.length} links, ${left.routes.length} routes (the routes went with their devices); deleting again: errors ${errors(twice)}`,
  )
} catch (err) {
  check('gre-port', false, err instanceof Error ? err.message : String(err))
} finally {
  port.close()
}
process.exit(checks.failed ? 1 : 0)
