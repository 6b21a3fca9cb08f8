// Every subcommand, in the order `sdwan-edge --help` lists them.
import type { Command } from '../command.js'
import { validate } from './validate.js'

export const commands: readonly Command[] = [validate]
