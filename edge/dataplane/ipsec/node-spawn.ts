// The production SpawnCharon: a plain child process with stdout/stderr piped for the log capture.
import { spawn } from 'node:child_process'
import type { SpawnCharon } from './charon-supervisor.js'

export const nodeSpawnCharon: SpawnCharon = (command, args, env) =>
  spawn(command, [...args], { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
