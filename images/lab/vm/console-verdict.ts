// Reads the guest's verdict and timings from the serial console text (see init-script.ts markers).
import { MARKER_ERROR, MARKER_INIT, MARKER_RESULT, MARKER_SCENARIO } from './init-script.js'

export interface ConsoleVerdict {
  /** Exit status of the scenario script; 125 when /init failed before running it. */
  readonly exitCode: number
  /** Guest uptime when /init started: the kernel's boot time. */
  readonly initUptimeS?: number
  /** Guest uptime when the scenario script started (after modules and mounts). */
  readonly scenarioUptimeS?: number
  /** Guest uptime when the scenario ended. */
  readonly endUptimeS?: number
  /** What /init reported failing, if anything. */
  readonly initError?: string
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

const RESULT = new RegExp(`${escape(MARKER_RESULT)}(\\d+)(?: uptime=([\\d.]+))?@@`)
const INIT = new RegExp(`${escape(MARKER_INIT)}([\\d.]+)@@`)
const SCENARIO = new RegExp(`${escape(MARKER_SCENARIO)}([\\d.]+)@@`)
const ERROR = new RegExp(`${escape(MARKER_ERROR)}(.*?)@@`)

/** The verdict, or undefined when the console has no result marker (guest crashed, hung or was killed). */
export function readConsoleVerdict(console: string): ConsoleVerdict | undefined {
  const result = RESULT.exec(console)
  if (result === null) return undefined
  const init = INIT.exec(console)
  const scenario = SCENARIO.exec(console)
  const error = ERROR.exec(console)
  return {
    exitCode: Number(result[1]),
    ...(init?.[1] === undefined ? {} : { initUptimeS: Number(init[1]) }),
    ...(scenario?.[1] === undefined ? {} : { scenarioUptimeS: Number(scenario[1]) }),
    ...(result[2] === undefined ? {} : { endUptimeS: Number(result[2]) }),
    ...(error?.[1] === undefined ? {} : { initError: error[1] }),
  }
}
