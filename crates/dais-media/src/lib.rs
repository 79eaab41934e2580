//! The Dais media engine: sources, feeds, keyframe-gated switching, rewriting, fan-out (sans-IO).
