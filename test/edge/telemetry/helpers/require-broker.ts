// Broker tests need mosquitto and openssl. Without them a test file skips with one line — except under
// CI=true, where that is a failure.
import t from 'tap'
import { missingBrokerCapability } from './tls-broker.js'

/** True when the broker tests can run; otherwise ends the file (skip, or fail under CI=true). */
export function requireBroker(): boolean {
  const missing = missingBrokerCapability()
  if (!missing) return true
  if (process.env.CI === 'true') t.fail(`broker test cannot run: ${missing}`)
  else t.plan(0, `skip: ${missing}`)
  return false
}
