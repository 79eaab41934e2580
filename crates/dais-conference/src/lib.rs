//! Meetings, venues and chair-command policy for Dais (sans-IO).
