// Every subcommand, in the order `sdwan-edge --help` lists them.
import type { Command } from '../command.js'
import { validate } from './validate.js'
import { plan } from './plan.js'
import { schemaCommand } from './schema.js'
import { probeCommand } from './probe.js'
import { reflectCommand } from './reflect.js'
import { applyCommand } from './apply.js'
import { stopCommand } from './stop.js'
import { runCommand } from './run.js'
import { statusCommand } from './status.js'
import { signPolicyCommand } from './sign-policy.js'

export const commands: readonly Command[] = [
  runCommand,
  statusCommand,
  validate,
  plan,
  schemaCommand,
  probeCommand,
  reflectCommand,
  applyCommand,
  stopCommand,
  signPolicyCommand,
]
