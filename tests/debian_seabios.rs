//! Real firmware, end to end: Debian bookworm's `seabios` 1.16.2-1 is published in a fresh fwlog
//! log as its vendor would (source digest, embedded recipe, the digests of the 13 files Debian
//! ships in /usr/share/seabios), rebuilt from Debian's source package with `fwlog rebuild`, and
//! Debian's shipped images are verified offline with `fwlog verify` against a policy that requires
//! one reproduction. See examples/debian-seabios/README.md.
//!
//! Ignored by default and not part of CI: it needs root, Debian bookworm amd64 and a Debian
//! mirror (it adds a bookworm deb-src entry if none is configured, runs `apt-get update` and
//! `apt-get build-dep seabios=1.16.2-1`), and the build takes about two minutes on two cores.
//!
//!     cargo test --release --test debian_seabios -- --ignored --nocapture
//!
//! Set FWLOG_SEABIOS_DIR to run in (and keep) a given directory; otherwise a temporary one is used
//! and kept only when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The images Debian ships (vgabios.bin, a symlink to vgabios-isavga.bin, is left out) and their
/// SHA-256 in seabios_1.16.2-1_all.deb.
const SHIPPED: [(&str, &str); 13] = [
    (
        "acpi-dsdt.aml",
        "e3db82389faefc95558fd3f85c30b741d1079bd4e84c0fb0eda2c9dee8257288",
    ),
    (
        "bios-256k.bin",
        "2da2018c7555e50b660a84a273a14a79cb87b9070fe6a90e9f151a53e357f7e6",
    ),
    (
        "bios-microvm.bin",
        "8a57c67a8e698158ccf46cba89ccd965b025006f0e603816947b4efa8696282a",
    ),
    (
        "bios.bin",
        "7ba476745bd8d32d66b7a5bd12999e2445e7a345a4a72c30352b1d4a69a26e88",
    ),
    (
        "vgabios-ati.bin",
        "c6acc910d92e83f4b96932f6f4d309c16f02bbc0baf64c7cb6761e9c255f3068",
    ),
    (
        "vgabios-bochs-display.bin",
        "0edca1dc2aae9258aa5b45b9e75db0bdcf0aece3649b8b9c5f3e96af374b4596",
    ),
    (
        "vgabios-cirrus.bin",
        "0e9261c2cc2871db3da11d39b181021de5f6caaac323b47efdad95defb8ba2f7",
    ),
    (
        "vgabios-isavga.bin",
        "26f5061af797a5537df089025938fa3587c38c2270ec8d77fa384c4563eb834c",
    ),
    (
        "vgabios-qxl.bin",
        "2d800328dc42ea25f75445fc648ffb65ad0b917faceda01447155ab2276d1ccb",
    ),
    (
        "vgabios-ramfb.bin",
        "9511277d6372687aefdd6862e29344782854080b5fed23cee6ad6ea49526a0f8",
    ),
    (
        "vgabios-stdvga.bin",
        "cc2f735f19b6318922ac3de9506dee498f149a6b75534f7e5c176d4441a7fa4a",
    ),
    (
        "vgabios-virtio.bin",
        "63cf5baaa3544a71fd4e3538e7497ee2cc0848491c4f5a6aa67ca79228ca9c75",
    ),
    (
        "vgabios-vmware.bin",
        "6dd202e7cde23b51081076ade5206ca8cdeade1e55fa8d763bdd5e9434946e43",
    ),
];

#[test]
#[ignore = "needs root, Debian bookworm amd64 and a Debian mirror; installs build-deps and builds for ~2 min"]
fn debian_seabios_1_16_2_1_reproduces_bit_for_bit() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/debian-seabios/run.sh");
    let (dir, temp): (PathBuf, Option<tempfile::TempDir>) =
        match std::env::var_os("FWLOG_SEABIOS_DIR") {
            Some(d) => (PathBuf::from(d), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("fwlog-debian-seabios.")
                    .tempdir()
                    .expect("temp dir");
                (t.path().to_path_buf(), Some(t))
            }
        };

    let out = Command::new(&script)
        .arg(&dir)
        .env("FWLOG", env!("CARGO_BIN_EXE_fwlog"))
        .output()
        .expect("run examples/debian-seabios/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");

    let reproduced = out.status.success()
        && stdout.contains("verdict: reproduced")
        && stdout.contains("fwlog verify accepted all 13 images");
    if !reproduced {
        if let Some(t) = temp {
            let _ = t.keep(); // leave the downloads, log and rebuild work directory for inspection
        }
        panic!(
            "run.sh exited with {:?} without reproducing; everything is in {}",
            out.status.code(),
            dir.display()
        );
    }

    // `fwlog rebuild`'s table: every shipped image rebuilt to Debian's exact bytes.
    for (name, sha256) in SHIPPED {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no rebuild table row for {name}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cols.get(1..3),
            Some(&["match", sha256][..]),
            "rebuild table row: {row}"
        );
    }
}
