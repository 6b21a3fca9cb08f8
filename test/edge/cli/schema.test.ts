// The schema command, the README's policy reference (which must match the schema), and the editor hook
// in every example policy (which must name the schema file by a path that resolves).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import t from 'tap'
import { withReference } from '../../../edge/cli/commands/schema.js'
import { schemaReference } from '../../../edge/config/schema-reference.js'
import { sitePolicySchema } from '../../../edge/config/schema.js'
import { runCli } from '../../helpers/cli.js'

const root = join(import.meta.dirname, '../../..')

t.test('the README policy reference is the one generated from the schema', async t => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const table = schemaReference(sitePolicySchema as never)
  t.equal(withReference(readme, table), readme, 'README is up to date (run: sdwan-edge schema --markdown --write README.md)')
  for (const field of ['uplinks[].addressing.gateway4', 'classes[].sla.minMos', 'probes.downAfterMisses', 'dataplane.fwmarkMask', 'telemetry.policySigningKey']) {
    t.match(table, `| \`${field}\` |`, `documents ${field}`)
  }
})

t.test('schema prints the JSON Schema editors load; --markdown the table', async t => {
  const json = await runCli(['schema'], root)
  t.equal(json.code, 0)
  t.same(JSON.parse(json.stdout), JSON.parse(readFileSync(join(root, 'policies/schema/site-policy.schema.json'), 'utf8')))
  const md = await runCli(['schema', '--markdown'], root)
  t.match(md.stdout, /^\| Field \| Type \| Required \| Default \| Meaning \|$/m)
  t.equal((await runCli(['schema', '--write', 'x.md'], root)).code, 2, '--write without --markdown is a usage error')
})

t.test('every example policy points editors at the schema', async t => {
  const dir = join(root, 'policies/examples')
  for (const f of readdirSync(dir).filter(x => x.endsWith('.yaml'))) {
    const text = readFileSync(join(dir, f), 'utf8')
    const first = text.split('\n')[0] ?? ''
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)
    t.ok(m, `${f} starts with the yaml-language-server schema comment`)
    // A hub policy (device.role hub, edge/hub/load.ts) has a schema of its own.
    const schema = /^ {2}role: hub$/m.test(text) ? 'hub-policy' : 'site-policy'
    if (m) t.equal(resolve(dirname(join(dir, f)), m[1]!), join(root, `policies/schema/${schema}.schema.json`), `${f}'s schema path resolves`)
  }
})
