// Runs the CLI in-process with captured output, the way tests drive any command.
import { main } from '../../edge/cli/main.js'

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

export async function runCli(argv: string[], cwd = process.cwd()): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, {
    stdout: t => void (stdout += t),
    stderr: t => void (stderr += t),
    cwd,
    env: {},
    isTTY: false,
  })
  return { code, stdout, stderr }
}
