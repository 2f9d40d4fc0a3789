//! `log_info`: the `log-info` file of a log.

use fwlog::store::{EntrySchema, LogInfo};

use super::fixtures::fixtures;
use super::input::Input;

/// `LogInfo::parse` (canonical: `to_bytes` is the input), and infos built from the input, which
/// must parse back whenever their origin fits on one line.
pub fn log_info(data: &[u8]) {
    if let Ok(info) = LogInfo::parse(data) {
        assert_eq!(info.to_bytes(), data, "LogInfo::to_bytes is not the input");
        assert_eq!(LogInfo::parse(&info.to_bytes()).ok(), Some(info));
    }
    let f = fixtures();
    let mut input = Input::new(data);
    let choice = input.u8();
    let entries = if choice & 1 == 0 {
        EntrySchema::Fwlog
    } else {
        EntrySchema::Any
    };
    let key = match choice >> 1 & 3 {
        0 => f.log_vk.clone(),
        1 => f.witness_vks[0].clone(),
        2 => f.vector_verifiers[3].clone(),
        _ => f.vendor.verifier_key(),
    };
    let origin = String::from_utf8_lossy(input.rest()).into_owned();
    if origin.contains('\n') {
        return;
    }
    let info = LogInfo {
        origin,
        key,
        entries,
    };
    match LogInfo::parse(&info.to_bytes()) {
        Ok(parsed) => assert_eq!(parsed, info),
        Err(e) => panic!("LogInfo::to_bytes output rejected: {e}"),
    }
}
