/**
 * From a ladder decision to notification rows: roles resolved to contacts, channels routed by
 * urgency and hour, one rendered message per recipient. Pure (the directory is passed in), so
 * the engine can call it inside the transaction of the clock change and hand the result to
 * enqueueNotifications.
 */
import { type Channel, type LadderFiring, type LadderRole, routeChannels, type RoutingRule } from '@huiying/domain';
import type { NewNotification } from '@huiying/db';
import { type ClockFacts, renderStepMessage, type StepMessageInput } from './step-templates.ts';

/** Someone a notification can reach, with an address (or target name) per channel. */
export interface Contact {
  name: string;
  unitId: string | null;
  addresses: Partial<Record<Channel, string>>;
  /** The duty office standing in for a duty officer because nobody is on shift. */
  fallback?: boolean;
}

/** One shift of the roster with the officer's contact (email and, if set, phone for SMS). */
export interface RosterShift {
  startsAt: number;
  endsAt: number;
  officer: Contact;
}

/** The officers on shift at `at` (two when shifts overlap), one contact each, in roster order. */
export function officersOnShift(roster: readonly RosterShift[], at: number): Contact[] {
  const seen = new Set<string>();
  const out: Contact[] = [];
  for (const s of roster) {
    if (s.startsAt > at || s.endsAt <= at) continue;
    const key = `${s.officer.name}\u0000${s.officer.addresses.email ?? ''}\u0000${s.officer.addresses.sms ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s.officer);
  }
  return out;
}

/** The duty office standing in for an empty roster: its name says so in every message. */
export const NOBODY_ON_SHIFT = '（值班表此时无人在班，发值班室邮箱）';

export interface DirectoryUnit {
  id: string;
  name: string;
  email: string | null;
  parentId: string | null;
}

/** Who is who: the units (with their supervising office as parent), the duty office, leaders. */
export interface Directory {
  units: ReadonlyMap<string, DirectoryUnit>;
  /** 政务公开办值班室: gets what an unassigned incident's unit would have got. */
  dutyOffice: Contact;
  leaders: readonly Contact[];
  /** A fixed duty officer (no roster); the duty office otherwise. Ignored when `roster` is given. */
  dutyOfficer?: Contact;
  /**
   * The duty roster (值班表) around the instants being planned: the `duty` role resolves to the
   * officers whose shift covers the step's instant ([startsAt, endsAt)), or to the duty office,
   * marked as a fallback, when nobody is on shift.
   */
  roster?: readonly RosterShift[];
  /** Extra addresses per unit: phone for SMS, robot/webhook target names. */
  unitChannels?: Readonly<Record<string, Partial<Record<Channel, string>>>>;
}

function unitContact(dir: Directory, unit: DirectoryUnit): Contact {
  return {
    name: unit.name,
    unitId: unit.id,
    addresses: { ...(unit.email ? { email: unit.email } : {}), ...dir.unitChannels?.[unit.id] },
  };
}

/**
 * The contacts a role stands for, for an incident or duty whose responsible unit is `unitId`,
 * at instant `at` (the step's: who is on shift then).
 */
export function contactsFor(role: LadderRole, unitId: string | null, dir: Directory, at?: number): Contact[] {
  const unit = unitId === null ? undefined : dir.units.get(unitId);
  switch (role) {
    case 'unit':
      return [unit ? unitContact(dir, unit) : dir.dutyOffice];
    case 'supervisor': {
      const parent = unit?.parentId ? dir.units.get(unit.parentId) : undefined;
      return [parent ? unitContact(dir, parent) : dir.dutyOffice];
    }
    case 'leaders':
      return [...dir.leaders];
    case 'duty': {
      if (dir.roster === undefined || at === undefined) return [dir.dutyOfficer ?? dir.dutyOffice];
      const on = officersOnShift(dir.roster, at);
      return on.length > 0 ? on : [{ ...dir.dutyOffice, name: `${dir.dutyOffice.name}${NOBODY_ON_SHIFT}`, fallback: true }];
    }
  }
}

export interface LadderNotificationInput {
  firing: LadderFiring;
  subject: StepMessageInput['subject'];
  /** The responsible unit, or null while unassigned. */
  unitId: string | null;
  /** The clock the firing belongs to (its snapshot's span), and for incidents its seq. */
  clock: ClockFacts & { seq?: number };
  /** Every clock of the incident, for the assignment notice. */
  clocks?: ClockFacts[];
  /** For warnings: the fraction elapsed. */
  elapsed?: number;
  now: number;
  dashboardUrl: string;
  directory: Directory;
  routing?: RoutingRule;
}

/** The rows for one firing: every role in to and cc, every routed channel the contact has. */
export function planLadderNotifications(i: LadderNotificationInput): NewNotification[] {
  const { firing, subject, directory } = i;
  const spanMs = i.clock.spanMs ?? i.clock.dueAt - i.clock.startAt;
  const channels = routeChannels({ spanMs, kind: firing.kind, at: i.now }, i.routing);
  const unit = i.unitId === null ? undefined : directory.units.get(i.unitId);
  const unitName = unit?.name ?? '（待交办）';
  const key = subject.type === 'incident' ? `incident:${subject.id}:${i.clock.seq ?? 0}` : `obligation:${subject.id}`;
  const out: NewNotification[] = [];
  const seen = new Set<string>();
  const roles = [...firing.to.map((r) => [r, false] as const), ...firing.cc.map((r) => [r, true] as const)];
  for (const [role, cc] of roles) {
    for (const contact of contactsFor(role, i.unitId, directory, i.now)) {
      const message = renderStepMessage({
        step: firing.kind,
        subject,
        recipientName: cc ? `${contact.name}（抄送）` : contact.name,
        unitName,
        clock: i.clock,
        ...(i.clocks ? { clocks: i.clocks } : {}),
        ...(i.elapsed === undefined ? {} : { elapsed: i.elapsed }),
        now: i.now,
        dashboardUrl: i.dashboardUrl,
      });
      for (const channel of channels) {
        const recipient = contact.addresses[channel];
        // The same address reached through two roles (a unit that is its own supervisor) gets one.
        if (!recipient || seen.has(`${channel}\u0000${recipient}`)) continue;
        seen.add(`${channel}\u0000${recipient}`);
        out.push({
          clockKey: key,
          step: firing.key,
          stepKind: firing.kind,
          role,
          recipient,
          recipientUnitId: contact.unitId,
          channel,
          groupKey: subject.id,
          ...(subject.type === 'incident' ? { incidentId: subject.id, clockSeq: i.clock.seq ?? null } : { obligationId: subject.id }),
          clockKind: i.clock.kind,
          subject: message.subject,
          text: message.text,
          html: channel === 'email' ? message.html : null,
        });
      }
    }
  }
  return out;
}
