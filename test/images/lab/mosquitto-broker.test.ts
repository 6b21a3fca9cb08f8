// A real Mosquitto broker in the lab's hub namespace, bound to the hub's data-centre address: the edge
// reaches it across the MPLS provider, and stopping it leaves no process or config behind.
import t from 'tap'
import { access } from 'node:fs/promises'
import { spawnCommandRunner } from '../../../images/lab/command-runner.js'
import { buildLab, teardownLab } from '../../../images/lab/lab-network.js'
import { mosquittoConfig, startBroker } from '../../../images/lab/mosquitto-broker.js'
import { retailBranch } from '../../../images/lab/topology.js'
import { brokerSkip } from './helpers/lab-capabilities.js'

t.test('config listens on the lab address only', async t => {
  const config = mosquittoConfig('10.20.0.10', 21883)
  t.match(config, /^listener 21883 10\.20\.0\.10$/m)
  t.notMatch(config, /^(port|bind_address)\b/m, 'no default listener on all addresses')
  t.match(config, /^persistence false$/m)
})

t.test('broker in the hub namespace, reached from the edge', { skip: brokerSkip() }, async t => {
  const run = spawnCommandRunner()
  const prefix = `mq${process.pid}-`
  const lab = await buildLab(retailBranch(prefix), run, { netem: false })
  t.teardown(() => teardownLab(prefix, run))
  const broker = await startBroker({ namespace: lab.topology.namespaces.hub, address: lab.topology.addresses.hubService })
  t.teardown(() => broker.stop())
  t.equal(broker.url, `mqtt://10.20.0.10:${broker.port}`)

  const listening = await lab.exec('hub', ['ss', '-Htln', `sport = :${broker.port}`])
  // ss -Htln columns: state, recv-q, send-q, local address:port, peer address:port.
  const local = listening.stdout.trim().split('\n').map(line => line.split(/\s+/)[3])
  t.same(local, [`10.20.0.10:${broker.port}`], 'listening on the hub service address only, no wildcard')

  const port = String(broker.port)
  const subscriber = lab.exec('edge', ['mosquitto_sub', '-h', broker.address, '-p', port, '-t', 'lab/hello', '-C', '1', '-W', '5'])
  // The subscription must be in place before the publish; mosquitto logs each new client.
  for (let i = 0; i < 100 && !/New client connected from 172\.20\.1\.2/.test(broker.log()); i++) await new Promise(r => setTimeout(r, 20))
  const published = await lab.exec('hub', ['mosquitto_pub', '-h', broker.address, '-p', port, '-t', 'lab/hello', '-m', 'from the hub'])
  t.equal(published.code, 0, `published: ${published.stderr}`)
  const received = await subscriber
  t.equal(received.stdout.trim(), 'from the hub', 'the edge (over mpls) received the message')

  await broker.stop()
  const config = /Config loaded from (\S+)\./.exec(broker.log())?.[1]
  t.ok(config, 'the log names the config file')
  await t.rejects(access(config ?? '/nonexistent'), 'config directory removed')
  t.equal((await lab.exec('hub', ['ss', '-Htln', `sport = :${broker.port}`])).stdout.trim(), '', 'nothing listens any more')
})
