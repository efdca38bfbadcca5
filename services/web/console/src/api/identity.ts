/** Shapes of the identity, timeline and administration endpoints, from the generated OpenAPI types. */
import type { BodyOf, Incident, JsonOf } from './types.ts';

/** GET /api/auth/me, POST /api/auth/login */
export type SessionInfo = JsonOf<'/api/auth/me', 'get'>;
export type User = SessionInfo['user'];
export type Role = User['role'];

type WireTimeline = JsonOf<'/api/incidents/{id}/timeline', 'get'>;
/** GET /api/incidents/:id/timeline, with the incident narrowed like the board's. */
export type Timeline = Omit<WireTimeline, 'incident'> & { incident: Incident };
export type TimelineSignal = WireTimeline['signals'][number];
export type TimelineResponse = WireTimeline['responses'][number];
export type TimelineAlert = WireTimeline['alerts'][number];
export type TimelineMail = WireTimeline['mails'][number];
export type TimelineAudit = WireTimeline['audit'][number];
/** GET /api/incidents/:id/evidence — 证据留存: archived pages behind the incident's signals and responses. */
export type EvidenceItem = JsonOf<'/api/incidents/{id}/evidence', 'get'>['items'][number];

export type AdminUnit = JsonOf<'/api/admin/units', 'get'>['items'][number];
export type AdminUser = JsonOf<'/api/admin/users', 'get'>['items'][number];
export type ApiToken = JsonOf<'/api/admin/tokens', 'get'>['items'][number];
/** POST /api/admin/tokens: the secret, shown once. */
export type NewToken = JsonOf<'/api/admin/tokens', 'post', 201>;

/** 监测方案 (monitoring rules) and the intake search (线索检索, 人工立案). */
export type MonitoringRule = JsonOf<'/api/admin/monitoring-rules', 'get'>['items'][number];
export type MonitoringRuleBody = BodyOf<'/api/admin/monitoring-rules', 'post'>;
export type SignalPage = JsonOf<'/api/signals', 'get'>;
export type SignalItem = SignalPage['items'][number];

/** 值班表: GET /api/roster (a week by default, and who is on shift now). */
export type Roster = JsonOf<'/api/roster', 'get'>;
export type RosterShift = Roster['items'][number];
export type RosterShiftBody = BodyOf<'/api/admin/roster', 'post'>;
