// The MQTT topic tree of one device: PREFIX/SITE/DEVICE/… (edge/telemetry/README.md documents it).
// Pure. Site and device ids are policy identifiers ([a-z0-9._-]), so they never contain the MQTT
// wildcards '+' and '#' or the level separator '/' (MQTT 5 §4.7.1).

export interface DeviceTopics {
  /** PREFIX/SITE/DEVICE: every topic of this device lives below it. */
  readonly root: string
  /** Retained birth ({online: true}) and last will ({online: false}). */
  readonly state: string
  /** Retained hardware and software inventory. */
  readonly inventory: string
  /** One report per path per interval. */
  readonly metrics: (path: string) => string
  readonly events: string
  readonly decisions: string
  /** Orchestrator → edge: command requests, one sub-topic per command name. */
  readonly commandRequest: (name: string) => string
  readonly commandRequests: string
  /** Orchestrator → edge: signed policy envelopes. */
  readonly policyPush: string
  /** Edge → orchestrator: the outcome of every push, and rollbacks. */
  readonly policyOutcome: string
  /** Replies go to the request's response topic, which must lie below this; or to this itself. */
  readonly replies: string
}

export function deviceTopics(prefix: string, site: string, device: string): DeviceTopics {
  const root = `${prefix}/${site}/${device}`
  return {
    root,
    state: `${root}/state`,
    inventory: `${root}/inventory`,
    metrics: path => `${root}/metrics/${path}`,
    events: `${root}/events`,
    decisions: `${root}/decisions`,
    commandRequest: name => `${root}/cmd/${name}`,
    commandRequests: `${root}/cmd/+`,
    policyPush: `${root}/policy/push`,
    policyOutcome: `${root}/policy/outcome`,
    replies: `${root}/reply`,
  }
}

/** A response topic the edge may publish to: its own reply topic or one below it (the broker ACL's grant). */
export const isOwnReplyTopic = (topics: DeviceTopics, topic: string): boolean =>
  (topic === topics.replies || topic.startsWith(`${topics.replies}/`)) && !/[+#]/.test(topic)

/** MQTT topic filter matching (MQTT 5 §4.7): '+' matches one level, a trailing '#' any number of levels. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i === f.length - 1
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}
