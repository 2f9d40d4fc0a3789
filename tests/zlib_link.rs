//! The fwlog binary leaves no zlib function to the system library: libgit2's calls all go to
//! the zlib-rs implementation linked in (see `zlib_link` in `src/lib.rs`). Were some of them
//! bound to the system zlib and others to zlib-rs, a stream set up by one would be handed to
//! the other.

use std::process::Command;

/// The zlib functions libgit2 calls.
const ZLIB: [&str; 7] = [
    "inflateInit_",
    "inflate",
    "inflateEnd",
    "deflateInit_",
    "deflate",
    "deflateEnd",
    "crc32",
];

#[test]
fn binary_takes_no_zlib_function_from_the_system() {
    let bin = env!("CARGO_BIN_EXE_fwlog");
    let out = Command::new("nm")
        .args(["-D", "--undefined-only", bin])
        .output()
        .expect("run nm (binutils) on the fwlog binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let undefined = String::from_utf8_lossy(&out.stdout);
    let from_system: Vec<&str> = undefined
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap_or(s))
        .filter(|s| ZLIB.contains(s))
        .collect();
    assert!(
        from_system.is_empty(),
        "bound to the system zlib: {from_system:?}"
    );
    // And the binary defines each of them.
    let out = Command::new("nm")
        .args(["--defined-only", bin])
        .output()
        .expect("nm");
    let defined = String::from_utf8_lossy(&out.stdout);
    for f in ZLIB {
        assert!(
            defined
                .lines()
                .any(|l| l.split_whitespace().last() == Some(f)),
            "{f} is not defined in the binary"
        );
    }
}
