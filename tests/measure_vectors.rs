//! AMD SEV launch measurements against the reference: every case of
//! tests/data/vectors/sev/sev.json (60 SEV / SEV-ES / SEV-SNP digests computed with
//! virtee/sev-snp-measure v0.0.13 over the last 4 KiB of edk2-stable202405 OVMF builds)
//! reproduced byte for byte through the library, a handful through the `fwlog` binary, and
//! the errors. An ignored test measures Debian bookworm's real OVMF.fd.

use std::path::{Path, PathBuf};
use std::process::Command;

use fwlog::measure::{
    launch_digest, snp_ovmf_hash, vcpu_sig_by_name, LaunchParams, MeasureError, SevMode, SnpReport,
    VmmType,
};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors/sev")
}

fn load_json() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("sev.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn firmware(name: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join(name)).unwrap()
}

fn mode(s: &str) -> SevMode {
    match s {
        "sev" => SevMode::Sev,
        "seves" => SevMode::SevEs,
        "snp" => SevMode::Snp,
        other => panic!("unknown mode {other}"),
    }
}

fn vmm(s: &str) -> VmmType {
    match s {
        "qemu" => VmmType::Qemu,
        "ec2" => VmmType::Ec2,
        "gce" => VmmType::Gce,
        other => panic!("unknown vmm {other}"),
    }
}

/// A case's input file: `null`/absent is none, "empty file" a zero-length file.
fn blob(v: Option<&Value>) -> Option<Vec<u8>> {
    match v.and_then(Value::as_str) {
        None => None,
        Some("empty file") => Some(Vec::new()),
        Some(other) => panic!("unexpected file {other:?}"),
    }
}

/// Computes one sev.json case through the library, optionally seeding SNP with the fixture's
/// published `snp:ovmf-hash`.
fn compute(case: &Value, seed: Option<[u8; 48]>) -> Result<Vec<u8>, MeasureError> {
    let image = firmware(case["firmware"].as_str().unwrap());
    let kernel = blob(case.get("kernel"));
    let initrd = blob(case.get("initrd"));
    let gf = case
        .get("guest_features")
        .and_then(Value::as_str)
        .map_or(1, |s| {
            u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
        });
    let params = LaunchParams {
        vcpus: case["vcpus"].as_u64().unwrap() as u32,
        vcpu_sig: case
            .get("vcpu_type")
            .and_then(Value::as_str)
            .map(|n| vcpu_sig_by_name(n).unwrap()),
        guest_features: gf,
        vmm: vmm(case["vmm"].as_str().unwrap()),
        kernel: kernel.as_deref(),
        initrd: initrd.as_deref(),
        append: case.get("append").and_then(Value::as_str),
        snp_ovmf_hash: seed,
        ..LaunchParams::new(mode(case["mode"].as_str().unwrap()), &image)
    };
    launch_digest(&params)
}

fn hash48(hex_str: &str) -> [u8; 48] {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

#[test]
fn every_vector_matches() {
    let v = load_json();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 60);
    let mut by_mode = std::collections::BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        let got = compute(case, None).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(
            hex::encode(&got),
            case["expected"].as_str().unwrap(),
            "case {i}: {case}"
        );
        assert_eq!(got.len(), mode(case["mode"].as_str().unwrap()).digest_len());
        *by_mode.entry(case["mode"].as_str().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(by_mode["sev"], 4);
    assert_eq!(by_mode["seves"], 8);
    assert_eq!(by_mode["snp"], 48);
}

#[test]
fn snp_ovmf_hashes_match_and_seed_the_chain() {
    let v = load_json();
    for (name, expected) in v["snp_ovmf_hash"].as_object().unwrap() {
        let got = snp_ovmf_hash(&firmware(name)).unwrap();
        assert_eq!(hex::encode(got), expected.as_str().unwrap(), "{name}");
    }
    // Every SNP case again, starting from the published hash instead of the pages.
    let mut n = 0;
    for case in v["cases"].as_array().unwrap() {
        if case["mode"] != "snp" {
            continue;
        }
        let seed = hash48(
            v["snp_ovmf_hash"][case["firmware"].as_str().unwrap()]
                .as_str()
                .unwrap(),
        );
        let got = compute(case, Some(seed)).unwrap();
        assert_eq!(hex::encode(got), case["expected"].as_str().unwrap());
        n += 1;
    }
    assert_eq!(n, 48);
}

#[test]
fn seed_replaces_the_image_pages() {
    // With a different seed the result differs, and the image's pages no longer matter: a
    // longer image with the same last page gives the same digest.
    let amd = firmware("ovmf_AmdSev_suffix.bin");
    let mut longer = vec![0xa5u8; 8192];
    longer.extend_from_slice(&amd);
    let seed = snp_ovmf_hash(&amd).unwrap();
    let run = |image: &[u8], seed| {
        launch_digest(&LaunchParams {
            vcpu_sig: Some(0x800f12),
            snp_ovmf_hash: seed,
            ..LaunchParams::new(SevMode::Snp, image)
        })
        .unwrap()
    };
    assert_eq!(run(&amd, None), run(&longer, Some(seed)));
    assert_ne!(run(&longer, None), run(&amd, None));
    assert_ne!(run(&amd, Some([0; 48])), run(&amd, None));
}

#[test]
fn errors() {
    let amd = firmware("ovmf_AmdSev_suffix.bin");
    let x64 = firmware("ovmf_OvmfX64_suffix.bin");
    fn base(mode: SevMode, image: &[u8]) -> LaunchParams<'_> {
        LaunchParams {
            vcpu_sig: Some(0x800f12),
            ..LaunchParams::new(mode, image)
        }
    }
    let err = |p: LaunchParams<'_>| launch_digest(&p).unwrap_err();

    // Kernel options on an image without a kernel-hashes table (SEV/SEV-ES: GPA 0 in the
    // footer table; SNP: no SNP kernel-hashes section).
    for m in [SevMode::Sev, SevMode::SevEs, SevMode::Snp] {
        let e = err(LaunchParams {
            kernel: Some(b""),
            ..base(m, &x64)
        });
        assert!(
            matches!(e, MeasureError::KernelHashesUnsupported(_)),
            "{m:?}: {e}"
        );
    }
    assert_eq!(
        err(LaunchParams {
            append: Some("console=ttyS0"),
            ..base(SevMode::Sev, &amd)
        }),
        MeasureError::DirectBootWithoutKernel
    );
    assert_eq!(
        err(LaunchParams {
            kernel: Some(b""),
            append: Some("a\0b"),
            ..base(SevMode::Snp, &amd)
        }),
        MeasureError::AppendHasNul
    );
    // Image without SEV metadata / footer table: an all-zero page.
    let zeros = vec![0u8; 4096];
    assert_eq!(err(base(SevMode::Snp, &zeros)), MeasureError::NoSevMetadata);
    assert_eq!(
        err(base(SevMode::SevEs, &zeros)),
        MeasureError::NoFooterTable
    );
    // …but plain SEV measures any image: exactly sha256(image).
    use sha2::{Digest, Sha256};
    assert_eq!(
        launch_digest(&base(SevMode::Sev, &zeros)).unwrap(),
        Sha256::digest(&zeros).to_vec()
    );
    // Bad sizes.
    for len in [0usize, 4095, 4097] {
        let img = vec![0u8; len];
        assert_eq!(
            err(base(SevMode::Sev, &img)),
            MeasureError::ImageSize { len }
        );
        assert_eq!(snp_ovmf_hash(&img), Err(MeasureError::ImageSize { len }));
    }
    for vcpus in [0, 4097] {
        assert_eq!(
            err(LaunchParams {
                vcpus,
                ..base(SevMode::Snp, &amd)
            }),
            MeasureError::VcpuCount(vcpus)
        );
    }
    // vCPU type: unknown name; none at all under QEMU (EC2 and GCE need none).
    assert!(matches!(
        vcpu_sig_by_name("EPYC-v9"),
        Err(MeasureError::UnknownVcpuType(_))
    ));
    let no_sig = LaunchParams::new(SevMode::Snp, &amd);
    assert!(matches!(err(no_sig), MeasureError::MissingVcpuSig(_)));
    assert!(launch_digest(&LaunchParams {
        vmm: VmmType::Gce,
        ..no_sig
    })
    .is_ok());
    // SNP needs SNPActive; the OVMF hash seed is SNP-only.
    assert_eq!(
        err(LaunchParams {
            guest_features: 0x20,
            ..base(SevMode::Snp, &amd)
        }),
        MeasureError::GuestFeatures(0x20)
    );
    assert_eq!(
        err(LaunchParams {
            snp_ovmf_hash: Some([0; 48]),
            ..base(SevMode::SevEs, &amd)
        }),
        MeasureError::SnpOvmfHashNeedsSnp
    );
    // A damaged footer GUID: no table, so no SEV metadata.
    let mut bad = amd.clone();
    bad[4096 - 40] ^= 0xff;
    assert_eq!(err(base(SevMode::Snp, &bad)), MeasureError::NoSevMetadata);
    // A damaged ASEV signature is an error in every mode.
    let mut bad = amd.clone();
    let off = 4096 - 0x554;
    assert_eq!(&bad[off..off + 4], b"ASEV");
    bad[off] = b'X';
    assert!(matches!(
        err(base(SevMode::Sev, &bad)),
        MeasureError::MalformedSevMetadata(_)
    ));
    // Error messages name the problem.
    assert!(MeasureError::NoSevMetadata
        .to_string()
        .contains("SEV metadata"));
}

#[test]
fn report_reader_round_trip() {
    let mut raw = vec![0u8; 1184];
    raw[0] = 3;
    let m = hex::decode(
        "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d",
    )
    .unwrap();
    raw[0x90..0xc0].copy_from_slice(&m);
    let r = SnpReport::parse(&raw).unwrap();
    assert_eq!(r.measurement[..], m[..]);
    assert_eq!(
        SnpReport::parse(&raw[..1000]),
        Err(MeasureError::ReportLength(1000))
    );
}

// ---- through the binary ----

fn fwlog(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fwlog"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn fixture_path(name: &str) -> String {
    vectors_dir().join(name).to_str().unwrap().to_string()
}

#[test]
fn cli_vectors() {
    let v = load_json();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let empty = empty.to_str().unwrap();
    // A handful: the first SEV, SEV-ES, SNP (qemu, ec2, gce) and direct-boot cases.
    let picks = [0usize, 2, 4, 8, 10, 13, 19, 38, 59];
    for &i in &picks {
        let c = &v["cases"][i];
        let mut args: Vec<String> = vec![
            "measure".into(),
            "--mode".into(),
            c["mode"].as_str().unwrap().into(),
            "--firmware".into(),
            fixture_path(c["firmware"].as_str().unwrap()),
            "--vcpus".into(),
            c["vcpus"].to_string(),
            "--vmm".into(),
            c["vmm"].as_str().unwrap().into(),
        ];
        if let Some(t) = c.get("vcpu_type").and_then(Value::as_str) {
            args.extend(["--vcpu-type".into(), t.into()]);
        }
        if let Some(g) = c.get("guest_features").and_then(Value::as_str) {
            args.extend(["--guest-features".into(), g.into()]);
        }
        if c.get("kernel").and_then(Value::as_str).is_some() {
            args.extend([
                "--kernel".into(),
                empty.into(),
                "--initrd".into(),
                empty.into(),
            ]);
            args.extend(["--append".into(), c["append"].as_str().unwrap().into()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = fwlog(&argv);
        assert_eq!(code, 0, "case {i}: {err}");
        assert_eq!(
            out,
            format!("{}\n", c["expected"].as_str().unwrap()),
            "case {i}"
        );
    }
}

#[test]
fn cli_snp_ovmf_hash_and_json() {
    let v = load_json();
    let amd = fixture_path("ovmf_AmdSev_suffix.bin");
    let (code, out, _) = fwlog(&["measure", "--mode", "snp-ovmf-hash", "--firmware", &amd]);
    assert_eq!(code, 0);
    let seed = v["snp_ovmf_hash"]["ovmf_AmdSev_suffix.bin"]
        .as_str()
        .unwrap();
    assert_eq!(out.trim(), seed);
    // --vcpu-sig instead of --vcpu-type, with the precomputed hash; 4 vCPUs, 0x21.
    let (code, out, err) = fwlog(&[
        "measure",
        "--mode",
        "snp",
        "--firmware",
        &amd,
        "--vcpus",
        "4",
        "--vcpu-sig",
        "0x800f12",
        "--guest-features",
        "0x21",
        "--snp-ovmf-hash",
        seed,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["measurement"], v["cases"][16]["expected"]);
    assert_eq!(j["mode"], "snp");
    assert_eq!(j["vcpu_sig"], "0x800f12");
}

#[test]
fn cli_report_and_errors() {
    let v = load_json();
    let amd = fixture_path("ovmf_AmdSev_suffix.bin");
    let x64 = fixture_path("ovmf_OvmfX64_suffix.bin");
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("vmlinuz");
    std::fs::write(&kernel, b"kernel").unwrap();
    let kernel = kernel.to_str().unwrap();

    // A report carrying case 9's measurement: printed, matched (exit 0) and mismatched (3).
    let mut raw = vec![0u8; 1184];
    raw[0] = 2;
    let expected = v["cases"][9]["expected"].as_str().unwrap();
    raw[0x90..0xc0].copy_from_slice(&hex::decode(expected).unwrap());
    let report = dir.path().join("report.bin");
    std::fs::write(&report, &raw).unwrap();
    let report = report.to_str().unwrap();
    let (code, out, _) = fwlog(&["measure", "--snp-report", report]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("measurement {expected}\n")), "{out}");
    let (code, out, _) = fwlog(&["measure", "--snp-report", report, "--json"]);
    assert_eq!(code, 0);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["measurement"], expected);
    assert_eq!(j["version"], 2);
    let snp = [
        "measure",
        "--mode",
        "snp",
        "--firmware",
        &amd,
        "--vcpu-type",
        "EPYC-v4",
    ];
    let (code, _, err) = fwlog(&[&snp[..], &["--snp-report", report]].concat());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = fwlog(&[&snp[..], &["--snp-report", report, "--vcpus", "2"]].concat());
    assert_eq!(code, 3);
    assert!(err.contains("mismatch"), "{err}");

    // Errors: one line on stderr, non-zero exit.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "measure",
                "--mode",
                "snp",
                "--firmware",
                &x64,
                "--vcpu-type",
                "EPYC-v4",
                "--kernel",
                kernel,
            ],
            "kernel-hashes",
        ),
        (
            vec![
                "measure",
                "--mode",
                "sev",
                "--firmware",
                &x64,
                "--kernel",
                kernel,
            ],
            "hashes table",
        ),
        (
            vec![
                "measure",
                "--mode",
                "snp",
                "--firmware",
                &amd,
                "--vcpu-type",
                "EPYC-v9",
            ],
            "unknown vCPU type",
        ),
        (
            vec!["measure", "--mode", "snp", "--firmware", &amd],
            "vCPU type or signature",
        ),
        (
            vec![
                "measure",
                "--mode",
                "snp",
                "--firmware",
                &amd,
                "--vcpu-sig",
                "zz",
            ],
            "not a hex number",
        ),
        (
            vec![
                "measure",
                "--mode",
                "snp",
                "--firmware",
                &amd,
                "--vcpu-sig",
                "1",
                "--snp-ovmf-hash",
                "00",
            ],
            "expected 48",
        ),
        (
            vec![
                "measure",
                "--mode",
                "snp",
                "--firmware",
                report,
                "--vcpu-sig",
                "1",
            ],
            "multiple of 4096",
        ),
        (
            vec!["measure", "--snp-report", &amd],
            "report is 4096 bytes",
        ),
        (vec!["measure", "--mode", "sev"], "--firmware"),
        (vec!["measure"], "required"),
        (
            vec![
                "measure",
                "--mode",
                "sev",
                "--firmware",
                &amd,
                "--append",
                "x",
            ],
            "--kernel",
        ),
    ];
    for (args, needle) in cases {
        let (code, out, err) = fwlog(&args);
        assert_ne!(code, 0, "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// Debian bookworm's `ovmf` 2022.11-6+deb12u2 (`/usr/share/ovmf/OVMF.fd`, 2 MiB, SHA-256
/// 7b456907…): SEV, SEV-ES and SEV-SNP metadata, no kernel-hashes table. Expected values
/// computed with sev-snp-measure v0.0.13; QEMU SNP values also agree with the `sev` crate 8.0.0.
/// Needs root and a Debian mirror (`apt-get download`); set FWLOG_OVMF_FD to an OVMF.fd
/// already extracted to skip the download.
///
///     cargo test --release --test measure_vectors -- --ignored --nocapture
#[test]
#[ignore]
fn debian_bookworm_ovmf() {
    let dir = tempfile::tempdir().unwrap();
    let path = match std::env::var_os("FWLOG_OVMF_FD") {
        Some(p) => PathBuf::from(p),
        None => {
            let run = |cmd: &mut Command| {
                let st = cmd.current_dir(dir.path()).status().unwrap();
                assert!(st.success(), "{cmd:?}");
            };
            run(Command::new("apt-get").args(["download", "ovmf=2022.11-6+deb12u2"]));
            run(Command::new("dpkg-deb").args(["-x", "ovmf_2022.11-6+deb12u2_all.deb", "x"]));
            dir.path().join("x/usr/share/ovmf/OVMF.fd")
        }
    };
    let image = std::fs::read(&path).unwrap();
    use sha2::{Digest, Sha256};
    let sha = hex::encode(Sha256::digest(&image));
    assert_eq!(
        sha,
        "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773"
    );
    let ovmf_hash = snp_ovmf_hash(&image).unwrap();
    println!("OVMF.fd {} bytes, sha256 {sha}", image.len());
    println!("snp:ovmf-hash {}", hex::encode(ovmf_hash));
    assert_eq!(
        hex::encode(ovmf_hash),
        "ba2c811512ef868474f239a21f7d7057d65a20de87a003c4f116e4fb1573183bfbcd75c3e99b2f558575a5d0094f73c6"
    );
    let expected = [
        (SevMode::Sev, 1, VmmType::Qemu, 1, "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773"),
        (SevMode::SevEs, 1, VmmType::Qemu, 1, "5bcbb5a45e7a9fa4699b6cc8f775382a810ff5a0186d3b90069ba28b1840b38f"),
        (SevMode::SevEs, 4, VmmType::Qemu, 1, "5f69b0f48cbd00c7bed859a9d597034d426b3a64a443674755132d833bf0e480"),
        (SevMode::Snp, 1, VmmType::Qemu, 1, "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3"),
        (SevMode::Snp, 1, VmmType::Qemu, 0x21, "c32245cb607f82791b60757bf0b344d9030e5b5a107342e69c09e668ff28aca5af9ca1dc41ce74f5a4e81aeaeb5e7b54"),
        (SevMode::Snp, 1, VmmType::Ec2, 1, "0aaa035d47b06741a745a62cb88eade395f648a7383d71cc322fab9df33859ca3c188a0578534c01526f1b4c0f0b0eb6"),
        (SevMode::Snp, 1, VmmType::Gce, 1, "6c5ed8d7d566801c36cf93c1e735e111d212d71892755cc9967a50c67f72e387909cfd3a3961b10d2799f7779f3beac6"),
        (SevMode::Snp, 4, VmmType::Qemu, 1, "32ac9d7a17d28f7cd4404a4516d2f00519668c40ada2062351c36767e908eb3f090d66c33ab10f80150e00a4385b6d0f"),
        (SevMode::Snp, 4, VmmType::Qemu, 0x21, "4842cf9f01c38c50535c62e34990ed6c1e8ab4676304545465367358527c359ba164717398516457f8f986cea3e9a221"),
        (SevMode::Snp, 4, VmmType::Ec2, 0x21, "3f757d05a96701b52146defb95eaf8c6e574b281ef60526d1496b13fa734085ae58e5e3996bf622a60c3c014226716a8"),
        (SevMode::Snp, 4, VmmType::Gce, 0x21, "0f8721e39f8b15eed9e616cd5f0efb40eb1c44c84064e4a7c66880a62b3f25dbe00c95018e95a498875baf4507cce0f8"),
    ];
    for (mode, vcpus, vmm, gf, want) in expected {
        let p = LaunchParams {
            vcpus,
            vcpu_sig: Some(0x800f12),
            guest_features: gf,
            vmm,
            ..LaunchParams::new(mode, &image)
        };
        let got = hex::encode(launch_digest(&p).unwrap());
        println!(
            "{} vcpus={vcpus} vmm={} guest_features={gf:#x}: {got}",
            mode.name(),
            vmm.name()
        );
        assert_eq!(got, want, "{mode:?} {vcpus} {vmm:?} {gf:#x}");
        if mode == SevMode::Snp {
            // From the published hash and the image's last page alone.
            let tail = &image[image.len() - 4096..];
            let seeded = LaunchParams {
                image: tail,
                snp_ovmf_hash: Some(ovmf_hash),
                ..p
            };
            assert_eq!(hex::encode(launch_digest(&seeded).unwrap()), want);
        }
    }
    for mode in [SevMode::Sev, SevMode::SevEs, SevMode::Snp] {
        let e = launch_digest(&LaunchParams {
            vcpu_sig: Some(0x800f12),
            kernel: Some(b"vmlinuz"),
            ..LaunchParams::new(mode, &image)
        })
        .unwrap_err();
        println!("{} with --kernel: {e}", mode.name());
        assert!(matches!(e, MeasureError::KernelHashesUnsupported(_)));
    }
}
