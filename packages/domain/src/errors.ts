/**
 * The domain's error catalogue: stable codes that adapters map to HTTP statuses, exit codes
 * or dead-letter reasons. Messages are for operators; callers branch on `code`.
 */
export const DOMAIN_ERROR_CODES = {
  INCIDENT_NOT_FOUND: 'an input other than a signal names an incident that does not exist',
  INCIDENT_MISMATCH: 'the input names a different incident than the state it was applied to',
  OBLIGATION_NOT_FOUND: 'fulfil or extend names an obligation that does not exist',
  OBLIGATION_EXISTS: 'an obligation with this id already exists',
  OBLIGATION_MISMATCH: 'the input names a different obligation than the state it was applied to',
  CALENDAR_YEAR_MISSING: 'a working-day computation needs a calendar year that has no data',
  CALENDAR_DATA_INVALID: 'calendar data does not match the calendar schema',
  RULE_PACK_INVALID: 'a rule pack does not match the rule-pack schema',
  INVALID_INPUT: 'an input carries an impossible value (e.g. a non-finite instant)',
} as const;

export type DomainErrorCode = keyof typeof DOMAIN_ERROR_CODES;

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A rule pack that does not parse, with the offending field as a JSON pointer (`/clocks/release/spanHours`). */
export class RulePackInvalid extends DomainError {
  override name = 'RulePackInvalid';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('RULE_PACK_INVALID', message);
  }
}

/**
 * Thrown when a working-day computation reaches a year the calendar has no data for. The
 * live engine catches it and computes a provisional Monday–Friday due (see
 * `provisionalCalendar`); replay reports it and exits 2.
 */
export class CalendarYearMissing extends DomainError {
  override name = 'CalendarYearMissing';
  constructor(readonly year: number) {
    super('CALENDAR_YEAR_MISSING', `calendar has no data for year ${year}`);
  }
}
