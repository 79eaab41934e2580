#![no_main]
// Placeholder until the owning crate lands its parser; replaced in the same session.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data.len();
});
