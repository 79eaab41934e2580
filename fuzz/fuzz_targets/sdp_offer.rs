#![no_main]
//! SDP parse + negotiate: never panics, and every answer we produce is SDP again.
use dais_sip::offer_answer::{Capabilities, negotiate, parse_sdp};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = parse_sdp(data);
    if let Ok(n) = negotiate(data, &Capabilities::default(), 1) {
        parse_sdp(n.answer.as_bytes()).expect("our answer parses");
    }
});
