import t from 'tap'
import { planCharonInstances } from '../../../../edge/dataplane/ipsec/charon-instances.js'

t.test('one instance per uplink with its own ports, files and table', async t => {
  const plan = planCharonInstances(
    [
      { uplink: 'wan1', routingTable: 1101, routingTablePrio: 1101 },
      { uplink: 'lte', netns: 'edge-lte', routingTable: 1102, routingTablePrio: 1102 },
    ],
    { runDir: '/run/sdwan-edge/charon', ikePortBase: 14500 },
  )
  t.same(plan, [
    { name: 'wan1', netns: undefined, confPath: '/run/sdwan-edge/charon/wan1.strongswan.conf', viciSocketPath: '/run/sdwan-edge/charon/wan1.vici', ikePort: 14500, natTPort: 14501, routingTable: 1101, routingTablePrio: 1101, installRoutes: true, logLevel: undefined },
    { name: 'lte', netns: 'edge-lte', confPath: '/run/sdwan-edge/charon/lte.strongswan.conf', viciSocketPath: '/run/sdwan-edge/charon/lte.vici', ikePort: 14502, natTPort: 14503, routingTable: 1102, routingTablePrio: 1102, installRoutes: true, logLevel: undefined },
  ])
})

const invalid = [
  { name: 'a name with a slash', uplinks: [{ uplink: '../x', routingTable: 1, routingTablePrio: 1 }], says: /A-Z a-z 0-9/ },
  { name: 'a duplicate uplink', uplinks: [{ uplink: 'a', routingTable: 1, routingTablePrio: 1 }, { uplink: 'a', routingTable: 2, routingTablePrio: 2 }], says: /listed twice/ },
  { name: 'a shared table', uplinks: [{ uplink: 'a', routingTable: 7, routingTablePrio: 1 }, { uplink: 'b', routingTable: 7, routingTablePrio: 2 }], says: /table 7 is already used by uplink "a"/ },
]
for (const c of invalid) {
  t.test(`rejects ${c.name}`, async t => {
    t.throws(() => planCharonInstances(c.uplinks, { runDir: '/run/x', ikePortBase: 14500 }), { name: 'CharonPlanError', message: c.says })
  })
}

t.test('rejects ports past 65535', async t => {
  t.throws(() => planCharonInstances([{ uplink: 'a', routingTable: 1, routingTablePrio: 1 }], { runDir: '/r', ikePortBase: 65535 }), { name: 'CharonPlanError', message: /exceed 65535/ })
})
