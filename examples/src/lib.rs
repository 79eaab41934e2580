//! Runnable examples of the Dais crates live in `examples/examples/`:
//!
//! * `cargo run -p dais-examples --example switch_engine` — the sans-IO media engine on its
//!   own: two venues, one receiver, a keyframe-gated switch, in virtual time;
//! * `cargo run -p dais-examples --example meeting_on_loopback` — a whole meeting over real
//!   loopback sockets: simulated venues, chair commands, what each venue receives.
