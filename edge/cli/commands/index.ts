// Every subcommand, in the order `sdwan-edge --help` lists them.
import type { Command } from '../command.js'

export const commands: readonly Command[] = []
