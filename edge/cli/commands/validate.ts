// `sdwan-edge validate FILE…`: checks policy files and lists every problem, located.
import { resolve } from 'node:path'
import { formatPolicyError } from '../../config/errors.js'
import { readPolicy } from '../../config/load.js'
import { UsageError, type Command } from '../command.js'

export const validate: Command = {
  name: 'validate',
  summary: 'check site policy files; print every problem as file:line:column',
  help: `usage: sdwan-edge validate [--quiet] FILE...

Checks each policy file against the schema (policies/schema/site-policy.schema.json) and the rules
beyond it (references, duplicates, shadowed classes, kernel ranges). Prints every problem as
FILE:LINE:COLUMN: JSON-POINTER: MESSAGE.

options:
  -q, --quiet   print only problems, not the 'ok' lines
  -h, --help    show this help

exit status: 0 all valid, 2 a file is invalid or unreadable`,
  options: { quiet: { type: 'boolean', short: 'q' } },
  async run({ values, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('no policy file given')
    let invalid = 0
    for (const file of positionals) {
      const result = await readPolicy(resolve(io.cwd, file), file)
      if (result.ok) {
        if (!values.quiet) {
          const p = result.policy
          io.stdout(`${file}: ok (site ${p.site.id}, serial ${p.serial}: ${p.uplinks.length} uplinks, ${p.tunnels.length} tunnels, ${p.classes.length} classes)\n`)
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
