// SysctlFs on the real /proc/sys of the network namespace this process runs in.
import { readFile, writeFile } from 'node:fs/promises'
import type { SysctlFs } from './rp-filter.js'

export const nodeSysctlFs: SysctlFs = {
  read: path =>
    readFile(path, 'utf8').then(
      text => text.trim(),
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      },
    ),
  write: (path, value) => writeFile(path, `${value}\n`),
}
