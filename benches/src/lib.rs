//! Shared helpers for the Dais benchmarks.
