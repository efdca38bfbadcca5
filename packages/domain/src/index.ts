/**
 * @huiying/domain — the pure rules core: incidents and their clocks, working-day
 * obligations, the PRC calendar, rule packs and replay. No I/O, no wall clock.
 */
export type * from './types.ts';
export { DOMAIN_ERROR_CODES, type DomainErrorCode, DomainError, CalendarYearMissing, RulePackInvalid } from './errors.ts';
export {
  type DayNumber,
  MS_PER_DAY,
  MS_PER_HOUR,
  SHANGHAI_OFFSET_MS,
  formatDay,
  formatIsoInstant,
  parseDay,
  parseIsoInstant,
  shanghaiDay,
  shanghaiDayStart,
} from './time.ts';
export {
  type CalendarData,
  CalendarDataSchema,
  type CalendarOptions,
  type CalendarYearData,
  countWorkingDays,
  createCalendar,
  extendWorkingDayDue,
  parseCalendarData,
  provisionalCalendar,
  type WorkingDayCalendar,
  type WorkingDayDue,
  type WorkingDaysResult,
  workingDayDue,
} from './calendar.ts';
export { CN_CALENDAR_DATA, chinaCalendar } from './calendar-cn.ts';
export {
  type ClockRule,
  DEFAULT_JURISDICTION,
  DEFAULT_RULE_PACK,
  INCIDENT_CLOCK_KINDS,
  interviewRulesOf,
  type JurisdictionRules,
  ladderPackFor,
  OBLIGATION_KINDS,
  type ObligationRule,
  parseRulePack,
  RESPONSE_KINDS,
  type RulePack,
  type RulePackDocument,
  RulePackDocumentSchema,
} from './rule-pack.ts';
export {
  advanceIncident,
  applyIncidentInput,
  type ClockAnchor,
  type IncidentClock,
  type IncidentResult,
  type IncidentState,
  nextIncidentWake,
  type ResponseRecord,
} from './incident.ts';
export { rebuildIncident } from './incident-rebuild.ts';
export {
  advanceObligation,
  applyObligationInput,
  nextObligationWake,
  type ObligationResult,
  type ObligationState,
  type ObligationStep,
  type ObligationSuspension,
} from './obligation.ts';
export { EventEncoder } from './event-encoder.ts';
export {
  formatEvent,
  type ParsedTimeline,
  parseTimeline,
  ReplayError,
  type ReplayInput,
  type ReplayOptions,
  replayEach,
  runReplay,
  type TimelineEntry,
} from './replay.ts';
export {
  DEFAULT_SIGNAL_TIME_POLICY,
  decideSignalTime,
  type SignalTime,
  type SignalTimeInput,
  type SignalTimePolicy,
  type TimeDecision,
  type TimeReason,
} from './signal-time.ts';
export { maskPersonalData, maskPersonalDataDeep, maskPersonalField } from './personal-data.ts';
export {
  type Channel,
  CHANNELS,
  DEFAULT_LADDER_PACK,
  DEFAULT_ROUTING,
  defaultLadder,
  type InterviewCandidate,
  interviewCandidates,
  type InterviewGroup,
  interviewGroups,
  interviewGroupsByJurisdiction,
  type InterviewRule,
  interviewRuleFor,
  type InterviewRules,
  interviewWindow,
  type Ladder,
  ladderAt,
  type LadderClock,
  type LadderDecision,
  type LadderFiring,
  type LadderPack,
  type LadderProgress,
  type LadderRole,
  ladderSnapshot,
  type LadderStep,
  type LadderStepKind,
  periodOf,
  periodRange,
  periodsOverlapping,
  type ReportCandidacy,
  reportCandidacy,
  type ReportClock,
  routeChannels,
  type RoutingRule,
  shanghaiHour,
  startLadder,
} from './ladder.ts';
export { type EscalatedEvent, formatEscalated, withEscalations } from './ladder-replay.ts';
export {
  type ClockFiring,
  type ClockLadder,
  clockLadder,
  type LadderStep as LadderWalk,
  stepIncidentLadders,
  stepObligationLadder,
} from './ladder-state.ts';
export {
  matchesExpression,
  matchRules,
  type MonitoringRule,
  normalizeForMatch,
  parseRuleExpression,
  type RuleExpression,
  RuleExpressionError,
  type RuleSubject,
  type SourceKind,
} from './monitoring.ts';
export {
  bigramKey,
  bigramKeysOf,
  bigramsOf,
  canonicalUrl,
  decideGrouping,
  DEFAULT_GROUPING_POLICY,
  type GroupingCandidate,
  type GroupingDecision,
  type GroupingFeatures,
  groupingFeatures,
  type GroupingPolicy,
  type GroupingSubject,
  type JoinReason,
  normalizeText,
  pairwiseScores,
  similarity,
} from './grouping.ts';
export {
  bigramSimilarity,
  canonicalLink,
  channelSilence,
  classifyOrigin,
  type IncidentEvidence,
  isNewsOutlet,
  matchOfficialItem,
  type OfficialItemText,
  type ResponseMatch,
  SILENCE_RULES,
  type SilenceRule,
  type SilenceVerdict,
} from './official-channel.ts';
export { CandidatePool, groupAll } from './candidate-pool.ts';
