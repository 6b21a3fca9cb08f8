// `sdwan-edge status [--json]`: asks the running daemon for uplinks, paths, classes and recent re-steers.
import { resolve } from 'node:path'
import { askControl, DEFAULT_CONTROL_SOCKET } from '../../daemon/control-socket.js'
import { statusText, type StatusReport } from '../../daemon/status.js'
import { hubStatusText, type HubStatus } from '../../hub/status.js'
import { UsageError, type Command } from '../command.js'

export const statusCommand: Command = {
  name: 'status',
  summary: "show the running daemon's uplinks, paths, metrics and each class's path and why",
  help: `usage: sdwan-edge status [--json] [--socket PATH]

Asks the running daemon over its control socket and prints, at a glance: each uplink's link and
addresses; each path's health, RTT, jitter, loss and MOS; each class's current path and why; the
last re-steers. A hub shows its spoke tunnels up or down, with packets per tunnel, and its reflector.

options:
  --json         print the report as JSON
  --socket PATH  control socket (default ${DEFAULT_CONTROL_SOCKET})
  -h, --help     show this help

exit status: 0 shown, 1 no daemon answered`,
  options: { json: { type: 'boolean' }, socket: { type: 'string' } },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
    const socket = resolve(io.cwd, (values.socket as string | undefined) ?? DEFAULT_CONTROL_SOCKET)
    try {
      const reply = await askControl(socket, 'status')
      if (!reply.ok) {
        io.stderr(`sdwan-edge status: the daemon refused: ${reply.error}\n`)
        return 1
      }
      const text = (r: unknown): string => ((r as { role?: string }).role === 'hub' ? hubStatusText(r as HubStatus) : statusText(r as StatusReport))
      io.stdout(values.json ? JSON.stringify(reply.result, null, 2) + '\n' : text(reply.result))
      return 0
    } catch (err) {
      io.stderr(`sdwan-edge status: ${(err as Error).message}\n`)
      return 1
    }
  },
}
