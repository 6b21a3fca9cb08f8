// GRE links through the real KernelPort, for the VM lab (the host kernel has no GRE): run as root
// inside a throwaway netns on a kernel with ip_gre/ip6_gre, e.g. from a lab:vm scenario:
//   ip netns add grecheck && ip netns exec grecheck node --import tsx test/edge/dataplane/helpers/gre-lab-check.ts
// Prints one line per check and exits 0 when all pass, 1 otherwise.
import { spawnSync } from 'node:child_process'
import type { GreLink, Route } from '../../../../edge/dataplane/model.js'
import { RtnlKernelPort } from '../../../../edge/dataplane/rtnl/port.js'
import { DEFAULT_OWNERSHIP } from '../../../../edge/dataplane/session.js'

const ip = (...args: string[]): void => {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}
ip('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'far0')
ip('link', 'set', 'up0', 'up')
ip('link', 'set', 'far0', 'up')
ip('addr', 'add', '203.0.113.2/24', 'dev', 'up0')
ip('addr', 'add', '2001:db8::2/64', 'dev', 'up0', 'nodad')

const port = new RtnlKernelPort(DEFAULT_OWNERSHIP)
let failed = 0
const check = (ok: boolean, what: string, detail = ''): void => {
  console.log(`${ok ? 'ok' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`)
  if (!ok) failed++
}

const links: GreLink[] = [
  { kind: 'gre', name: 'sw-dc1', local: '203.0.113.2', remote: '203.0.113.10', key: 42, ttl: 64, mtu: 1472, innerAddresses: ['10.255.42.10/30'] },
  { kind: 'ip6gre', name: 'sw-dc2', local: '2001:db8::2', remote: '2001:db8::10', ttl: 64, mtu: 1448, innerAddresses: ['10.255.43.10/30'] },
]
const routes: Route[] = links.map((l, i) => ({ family: 4, table: 1004 + i, dst: '10.0.0.0/8', type: 'unicast', device: l.name, metric: 100, comment: '' }))
const add = await port.apply([...links.map(link => ({ kind: 'add-gre' as const, link })), ...routes.map(route => ({ kind: 'add-route' as const, route }))])
check(add.every(e => !e), 'add GRE links and routes through them', add.filter(Boolean).map(e => e!.message).join('; '))
const dumped = await port.dump()
for (const l of links) {
  const d = dumped.greLinks.find(x => x.name === l.name)
  check(JSON.stringify(d) === JSON.stringify(l), `dump decodes ${l.name} as created`, JSON.stringify(d))
}
check(routes.every(r => dumped.routes.some(x => x.table === r.table && x.device === r.device)), 'routes through the links are ours')
const again = await port.apply(links.map(link => ({ kind: 'add-gre' as const, link })))
check(again.every(e => !e), 'adding them again is success (EEXIST)')
const del = await port.apply(links.map(link => ({ kind: 'del-gre' as const, link })))
check(del.every(e => !e), 'delete them')
check((await port.dump()).greLinks.length === 0, 'none left')
port.close()
process.exit(failed ? 1 : 0)
