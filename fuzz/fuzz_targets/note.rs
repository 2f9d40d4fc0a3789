#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fwlog_fuzz::targets::note(data));
