// Loads the whole CLI once, alone, so tsx's transform cache (in the guest's tmpfs /tmp) is full before a
// scenario starts several node processes that load the same modules at once: ~55 s cold under TCG,
// ~15 s warm for the daemon and its reflectors.
import { fileURLToPath } from 'node:url'
import type { CommandRunner } from '../../command-runner.js'

export async function warmModuleCache(run: CommandRunner): Promise<void> {
  const started = Date.now()
  const cli = fileURLToPath(new URL('../../../../edge/cli/bin.ts', import.meta.url))
  const result = await run({ argv: [process.execPath, '--import', 'tsx', cli, '--help'] })
  console.log(`module cache warmed in ${Date.now() - started} ms (sdwan-edge --help exit ${result.code})`)
}
