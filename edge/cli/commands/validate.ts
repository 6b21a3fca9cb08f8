// `sdwan-edge validate FILE…`: checks policy files and lists every problem, located.
import { resolve } from 'node:path'
import { formatPolicyError } from '../../config/errors.js'
import { readableFile, readAnyPolicy } from '../../hub/load.js'
import { UsageError, type Command } from '../command.js'

export const validate: Command = {
  name: 'validate',
  summary: 'check site and hub policy files; print every problem as file:line:column',
  help: `usage: sdwan-edge validate [--quiet] [--files] FILE...

Checks each policy file against the schema (policies/schema/site-policy.schema.json) and the rules
beyond it (references, duplicates, shadowed classes, kernel ranges). A file with device.role hub is a
hub policy (policies/schema/hub-policy.schema.json: duplicates, overlaps, missing files). Prints every
problem as FILE:LINE:COLUMN: JSON-POINTER: MESSAGE.

options:
  -q, --quiet   print only problems, not the 'ok' lines
  --files       also check that the files a hub policy names (keys, certificates) can be read here,
                as 'run' does on the appliance
  -h, --help    show this help

exit status: 0 all valid, 2 a file is invalid or unreadable`,
  options: { quiet: { type: 'boolean', short: 'q' }, files: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('no policy file given')
    let invalid = 0
    for (const file of positionals) {
      const result = await readAnyPolicy(resolve(io.cwd, file), file, values.files ? readableFile : () => true)
      if (result.ok) {
        if (!values.quiet && result.role === 'edge') {
          const p = result.policy
          io.stdout(`${file}: ok (site ${p.site.id}, serial ${p.serial}: ${p.uplinks.length} uplinks, ${p.tunnels.length} tunnels, ${p.classes.length} classes)\n`)
        } else if (!values.quiet && result.role === 'hub') {
          const p = result.policy
          io.stdout(`${file}: ok (hub ${p.device.id}, serial ${p.serial}: ${p.spokes.length} spokes, ${p.spokes.reduce((n, s) => n + s.tunnels.length, 0)} tunnels)\n`)
        }
      } else {
        invalid++
        io.stderr(result.errors.map(e => formatPolicyError(e) + '\n').join(''))
        io.stderr(`${file}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}\n`)
      }
    }
    return invalid > 0 ? 2 : 0
  },
}
