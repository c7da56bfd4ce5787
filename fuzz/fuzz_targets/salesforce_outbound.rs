//! libFuzzer entry for `leadrouter_fuzz_targets::salesforce_outbound` (the body and its invariants live there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadrouter_fuzz_targets::salesforce_outbound(data));
