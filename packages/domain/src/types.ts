/**
 * Public types of the pure rules core. Instants are epoch milliseconds (numbers) inside the
 * core; ISO-8601 strings exist only at the edges (replay I/O, API, messages).
 */
export type Instant = number;

export type Level = 'I' | 'II' | 'III' | 'IV';
export type SignalSource = 'feed' | 'hotline' | 'manual';
export type ResponseKind = 'release' | 'press_conference' | 'reply';
export type IncidentClockKind = 'response' | 'release' | 'press_conference';
export type ObligationKind = 'policy_interpretation' | 'service_change' | 'proposal_reply' | 'penalty_disclosure' | 'disclosure_request';
export type ClockKind = IncidentClockKind | ObligationKind;
export type ClockState = 'running' | 'met' | 'breached' | 'cancelled' | 'waived';

/** Inputs about one incident; `at` is when the engine learns of it ("now" for that input). */
export type IncidentInput =
  | {
      type: 'signal';
      at: Instant;
      incident: string;
      source: SignalSource;
      publishedAt?: Instant;
      title?: string;
      /** 辖区 of the signal; the one that creates the incident gives it its jurisdiction (and ladder). */
      jurisdiction?: string;
    }
  | { type: 'occurred'; at: Instant; incident: string; occurredAt: Instant }
  | { type: 'grade'; at: Instant; incident: string; level: Level; unit?: string }
  | { type: 'assign'; at: Instant; incident: string; unit: string }
  | {
      type: 'response';
      at: Instant;
      incident: string;
      kind: ResponseKind;
      original: boolean;
      publishedAt?: Instant;
      unit?: string;
      channel?: string;
      url?: string;
    }
  | { type: 'dismiss'; at: Instant; incident: string; reason: string };

/**
 * Why a disclosure request's count is suspended (政府信息公开条例): `correction` — the agency
 * asked the applicant to correct the request (补正, art. 30): the count restarts when the
 * corrected request arrives; `third_party` — the agency is consulting a third party
 * (征求第三方意见, art. 32): the time it takes does not count.
 */
export type SuspendReason = 'correction' | 'third_party';

export type ObligationInput =
  /** `jurisdiction`: the duty's (its unit's) 辖区, whose ladder the duty snapshots; absent = the default. */
  | { type: 'obligation'; at: Instant; id: string; kind: ObligationKind; issuedAt: Instant; jurisdiction?: string }
  | { type: 'fulfil'; at: Instant; id: string }
  | { type: 'extend'; at: Instant; id: string }
  /** Live engine only for now (not in replay.md): stop a disclosure_request's count. */
  | { type: 'suspend'; at: Instant; id: string; reason: SuspendReason }
  /** Live engine only: restart (correction) or continue (third_party) the count from `at`'s day. */
  | { type: 'resume'; at: Instant; id: string }
  /** Live engine only: recompute the due with the calendar given (after a missing year was loaded). */
  | { type: 'recalculate'; at: Instant; id: string };

/** The obligation inputs replay.md defines (the others will join the contract later). */
export type ReplayObligationInput = Extract<ObligationInput, { type: 'obligation' | 'fulfil' | 'extend' }>;

/** Events, exactly the replay output kinds (replay.md), with instants as epoch ms. */
export type EngineEvent =
  | { event: 'started'; at: Instant; incident?: string; obligation?: string; clock: ClockKind; due: Instant }
  /** An incident clock whose start moved, or (live only) an obligation whose due a `recalculate` moved. */
  | { event: 'rescheduled'; at: Instant; incident?: string; obligation?: string; clock: ClockKind; due: Instant }
  | { event: 'warning'; at: Instant; incident?: string; obligation?: string; clock: ClockKind; due: Instant; elapsed: number }
  | {
      event: 'met';
      at: Instant;
      incident?: string;
      obligation?: string;
      clock: ClockKind;
      due: Instant;
      respondedAt: Instant;
      late: boolean;
    }
  | { event: 'breached'; at: Instant; incident?: string; obligation?: string; clock: ClockKind; due: Instant }
  | { event: 'breach_retracted'; at: Instant; incident: string; clock: ClockKind; due: Instant }
  | { event: 'cancelled'; at: Instant; incident: string; clock: ClockKind; reason: 'superseded' | 'downgraded' }
  | { event: 'waived'; at: Instant; incident: string; clock: ClockKind; reason: string }
  | { event: 'nonqualifying_response'; at: Instant; incident: string; kind: ResponseKind; reason: 'repost' }
  | { event: 'extended'; at: Instant; obligation: string; clock: ClockKind; due: Instant }
  | { event: 'extend_rejected'; at: Instant; obligation: string; clock: ClockKind; reason: string }
  /**
   * Live only (not in replay.md yet). `due` is the due as it stood, now frozen;
   * `remainingWorkingDays` count again after the resume day (for `correction`: the full
   * base period, which restarts).
   */
  | {
      event: 'suspended';
      at: Instant;
      obligation: string;
      clock: ClockKind;
      reason: SuspendReason;
      due: Instant;
      remainingWorkingDays: number;
    }
  /** Live only. `due` is the new due. */
  | { event: 'resumed'; at: Instant; obligation: string; clock: ClockKind; reason: SuspendReason; due: Instant }
  /** Live only. Reasons: not_suspendable, already_met, already_breached, already_suspended. */
  | { event: 'suspend_rejected'; at: Instant; obligation: string; clock: ClockKind; reason: string }
  /** Live only. Reasons: already_met, already_breached, not_suspended. */
  | { event: 'resume_rejected'; at: Instant; obligation: string; clock: ClockKind; reason: string };

export type EngineEventKind = EngineEvent['event'];
