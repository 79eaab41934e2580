// What the logged-in role may use, so the console can hide what it cannot. This mirrors the
// permission table of docs/api.md for *showing* controls only: the server still decides every
// request (and refuses with 403), so a stale copy here can hide too much or too little, never
// grant anything.

import { operator } from './api.js';

function kind() {
  return operator()?.role?.kind ?? null;
}

/** The role's site (site administrators) or stage (approvers). */
export function roleSite() {
  return operator()?.role?.site ?? null;
}

const CAN = {
  // Screens (the top bar's links).
  'screen.bookings': ['it_centre', 'site_admin', 'chair_operator', 'approver', 'auditor'],
  'screen.inbox': ['it_centre', 'approver'],
  'screen.sites': ['it_centre', 'site_admin', 'auditor'],
  'screen.equipment': ['it_centre', 'site_admin', 'auditor'],
  'screen.recordings': ['it_centre', 'auditor'],
  // Actions.
  'booking.file': ['it_centre', 'site_admin', 'chair_operator'],
  'booking.decide': ['it_centre', 'approver'],
  'site.edit': ['it_centre'],
  'equipment.write': ['it_centre', 'site_admin'],
  'recording.request': ['it_centre', 'auditor'],
  'recording.decide': ['it_centre'],
  'meeting.start': ['it_centre', 'chair_operator'],
  'record.read': ['it_centre', 'site_admin', 'chair_operator', 'auditor'],
};

/** True when the logged-in role may use `what` (a key of the table above). */
export function can(what) {
  return (CAN[what] ?? []).includes(kind());
}

/**
 * Which chair commands the role may send on a meeting wall: `all` (the IT centre; a chair
 * operator, refused by the server when not this meeting's chair), `own` (a site administrator:
 * mute, unmute, dial, hang up and redial of their own site's venues) or `none`.
 */
export function wallRights() {
  switch (kind()) {
    case 'it_centre':
    case 'chair_operator':
      return 'all';
    case 'site_admin':
      return 'own';
    default:
      return 'none';
  }
}
