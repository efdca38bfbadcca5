export { startEngine, type EngineOptions, type RunningEngine } from './engine.ts';
export { applyCommand, fireDue, NotFoundError, StaleWriteError, type EngineDeps, incidentIdFor } from './store.ts';
export {
  handleSignal,
  handleSignals,
  promoteSignal,
  SignalAlreadyGrouped,
  type SignalDecision,
  sweepSignals,
  type SignalOutcome,
} from './signals.ts';
export { DEFAULT_JURISDICTION, groupingChanged } from './grouping.ts';
export { mergeIncidents, RegroupRefused, splitIncident } from './merge.ts';
export { DeadlineTimer } from './timer.ts';
export { incidentView, type IncidentView } from './view.ts';
export { CalendarService } from './calendar.ts';
export { applyObligationCommand, fireDueObligations, provisionalObligationIds, type ObligationDeps } from './obligations.ts';
export { loadRulePack, rulePackFallback } from './rule-pack-file.ts';
export { RulePackHolder, type RulePackInForce, type RulePackSource } from './rule-pack-holder.ts';
export { type LadderWiring } from './ladder-writer.ts';
export { DigestScheduler, type DigestOptions, nextDigestAt, queueDailyDigest, queueWeeklyDigest } from './digest.ts';
export { recordResponse, type RecordedResponse } from './record-response.ts';
export {
  AUTO_ACTOR,
  CandidateConflict,
  channelSilentAlertId,
  DEFAULT_OFFICIAL_CHANNEL_OPTIONS,
  OfficialChannels,
  type OfficialChannelOptions,
} from './official-channels.ts';
export { type HandoverOptions, HandoverScheduler, queueHandover } from './handover.ts';
export { digestFrom, notifySettingsSchema, routingFrom, routingSettingsSchema } from './process-settings.ts';
export {
  type CandidateQuery,
  type CandidateUnit,
  type InterviewBreach,
  type InterviewCandidateRow,
  loadInterviewCandidates,
  loadReportCandidates,
  type ReportCandidate,
} from './candidates.ts';
