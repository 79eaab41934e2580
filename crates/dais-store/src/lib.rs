//! Persistence for Dais: operators, venues, meetings, audit (SQLite by default).
