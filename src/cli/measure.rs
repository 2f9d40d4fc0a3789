//! `fwlog measure`: the expected SEV / SEV-ES / SEV-SNP launch measurement of a firmware image,
//! and the fields of a raw SEV-SNP attestation report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args, ValueEnum};
use fwlog::measure::{
    launch_digest, snp_ovmf_hash, vcpu_sig_by_name, LaunchParams, SevMode, SnpReport, VmShape,
    VmmType, MAX_IMAGE_SIZE,
};
use serde_json::json;

use super::args::{print_json, read_capped};

/// Exit code when the report's measurement differs from the expected one (as `fwlog rebuild`).
const EXIT_MISMATCH: u8 = 3;

/// Largest direct-boot kernel or initrd read.
const MAX_BOOT_FILE: usize = 1 << 30;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// SEV: SHA-256 over the firmware (and kernel hashes).
    Sev,
    /// SEV-ES: SEV plus one VMSA page per vCPU.
    #[value(alias = "sev-es")]
    Seves,
    /// SEV-SNP: the 48-byte MEASUREMENT of the attestation report.
    #[value(alias = "sev-snp")]
    Snp,
    /// Only the SEV-SNP digest after the firmware's pages (sev-snp-measure's snp:ovmf-hash),
    /// to publish for --snp-ovmf-hash.
    #[value(name = "snp-ovmf-hash", alias = "snp:ovmf-hash")]
    SnpOvmfHash,
}

#[derive(Clone, Copy, ValueEnum)]
enum VmmArg {
    /// QEMU/KVM.
    Qemu,
    /// Amazon EC2.
    Ec2,
    /// Google Compute Engine.
    Gce,
}

/// Arguments of `fwlog measure`.
#[derive(Args)]
#[command(group(ArgGroup::new("input").required(true).multiple(true).args(["mode", "snp_report"])))]
pub struct MeasureArgs {
    /// Guest mode.
    #[arg(long, value_enum, requires = "firmware")]
    mode: Option<ModeArg>,
    /// The exact firmware image (e.g. OVMF.fd) the VMM maps below 4 GiB.
    #[arg(long, value_name = "FILE")]
    firmware: Option<PathBuf>,
    /// Number of vCPUs (seves, snp).
    #[arg(long, value_name = "N", default_value_t = 1)]
    vcpus: u32,
    /// vCPU model, as QEMU names it: EPYC-v4, EPYC-Milan, EPYC-Genoa, … (seves, snp under
    /// QEMU, which puts the model's signature in RDX).
    #[arg(long, value_name = "NAME", conflicts_with = "vcpu_sig")]
    vcpu_type: Option<String>,
    /// vCPU signature (CPUID 1 EAX) in hex, e.g. 0x800f12, instead of --vcpu-type.
    #[arg(long, value_name = "HEX")]
    vcpu_sig: Option<String>,
    /// SEV-SNP guest features in hex: 0x1 is SNPActive; hosts with Linux 6.6 or later use
    /// 0x21 (SNPActive and DebugSwap).
    #[arg(long, value_name = "HEX", default_value = "0x1")]
    guest_features: String,
    /// VMM model.
    #[arg(long, value_enum, default_value = "qemu")]
    vmm: VmmArg,
    /// The whole VM shape at once, as `fwlog verify` and `fwlog allowlist` take it:
    /// comma-separated vcpus=N, type=NAME or sig=0xHEX, vmm=qemu|ec2|gce, features=0xHEX
    /// (unset keys: 1 vCPU, EPYC-v4, qemu, 0x1). Replaces --vcpus, --vcpu-type, --vcpu-sig,
    /// --vmm and --guest-features.
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["vcpus", "vcpu_type", "vcpu_sig", "vmm", "guest_features"])]
    vm_shape: Option<String>,
    /// Direct-boot kernel (QEMU -kernel).
    #[arg(long, value_name = "FILE")]
    kernel: Option<PathBuf>,
    /// Direct-boot initrd (QEMU -initrd).
    #[arg(long, value_name = "FILE", requires = "kernel")]
    initrd: Option<PathBuf>,
    /// Kernel command line (QEMU -append).
    #[arg(long, value_name = "CMDLINE", requires = "kernel")]
    append: Option<String>,
    /// SEV-SNP: start from this precomputed OVMF hash (96 hex digits, from --mode
    /// snp-ovmf-hash over the full image) instead of hashing the firmware's pages; --firmware
    /// then only supplies the footer table and SEV metadata, so its last pages suffice.
    #[arg(long, value_name = "HEX")]
    snp_ovmf_hash: Option<String>,
    /// A raw SEV-SNP attestation report (1184 bytes). Alone: print its fields. With --mode
    /// snp: also compare its MEASUREMENT with the expected one (exit 3 when they differ).
    #[arg(long, value_name = "FILE")]
    snp_report: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `fwlog measure`.
pub fn run(a: MeasureArgs) -> Result<ExitCode> {
    let report = match &a.snp_report {
        Some(path) => Some(read_report(path)?),
        None => None,
    };
    let Some(mode) = a.mode else {
        let Some(report) = report else {
            bail!("give --mode or --snp-report");
        };
        print_report(&report, a.json)?;
        return Ok(ExitCode::SUCCESS);
    };
    if report.is_some() && mode != ModeArg::Snp {
        bail!("--snp-report can only be compared with --mode snp");
    }
    let Some(firmware) = &a.firmware else {
        bail!("--mode needs --firmware");
    };
    let image = read_capped(firmware, MAX_IMAGE_SIZE)?;
    let mode = match mode {
        ModeArg::Sev => SevMode::Sev,
        ModeArg::Seves => SevMode::SevEs,
        ModeArg::Snp => SevMode::Snp,
        ModeArg::SnpOvmfHash => {
            let digest = snp_ovmf_hash(&image).with_context(|| firmware.display().to_string())?;
            output(a.json, "snp-ovmf-hash", &digest, json!({}))?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let shape = match &a.vm_shape {
        Some(spec) => Some(VmShape::parse(spec).context("--vm-shape")?),
        None => None,
    };
    let vcpu_sig = match (&a.vcpu_type, &a.vcpu_sig) {
        _ if shape.is_some() => shape.map(|s| s.vcpu.sig()),
        (Some(name), _) => Some(vcpu_sig_by_name(name)?),
        (None, Some(hex)) => Some(
            u32::try_from(parse_hex(hex).context("--vcpu-sig")?)
                .map_err(|_| anyhow::anyhow!("--vcpu-sig {hex} is larger than 32 bits"))?,
        ),
        (None, None) => None,
    };
    let guest_features = match shape {
        Some(s) => s.guest_features,
        None => parse_hex(&a.guest_features).context("--guest-features")?,
    };
    let snp_seed = match &a.snp_ovmf_hash {
        Some(h) => Some(parse_hash48(h).context("--snp-ovmf-hash")?),
        None => None,
    };
    let kernel = read_opt(a.kernel.as_deref())?;
    let initrd = read_opt(a.initrd.as_deref())?;
    let vmm = match (shape, a.vmm) {
        (Some(s), _) => s.vmm,
        (None, VmmArg::Qemu) => VmmType::Qemu,
        (None, VmmArg::Ec2) => VmmType::Ec2,
        (None, VmmArg::Gce) => VmmType::Gce,
    };
    let vcpus = shape.map_or(a.vcpus, |s| s.vcpus);
    let params = LaunchParams {
        vcpus,
        vcpu_sig,
        guest_features,
        vmm,
        kernel: kernel.as_deref(),
        initrd: initrd.as_deref(),
        append: a.append.as_deref(),
        snp_ovmf_hash: snp_seed,
        ..LaunchParams::new(mode, &image)
    };
    let digest = launch_digest(&params).with_context(|| firmware.display().to_string())?;
    let mut extra = json!({
        "vmm": vmm.name(),
        "guest_features": format!("{guest_features:#x}"),
    });
    if let Some(s) = shape {
        extra["vm_shape"] = json!(s.to_string());
    }
    if mode != SevMode::Sev {
        extra["vcpus"] = json!(vcpus);
        extra["vcpu_sig"] = json!(vcpu_sig.map(|s| format!("{s:#x}")));
    }
    let matches = report.as_ref().map(|r| r.measurement[..] == digest[..]);
    if let (Some(r), Some(m)) = (&report, matches) {
        extra["report_measurement"] = json!(hex::encode(r.measurement));
        extra["matches_report"] = json!(m);
    }
    output(a.json, mode.name(), &digest, extra)?;
    match (report, matches) {
        (Some(r), Some(false)) => {
            eprintln!(
                "fwlog: measurement mismatch: the report has {}",
                hex::encode(r.measurement)
            );
            Ok(ExitCode::from(EXIT_MISMATCH))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Prints a digest: one hex line, or a JSON object with `extra`'s fields.
fn output(as_json: bool, mode: &str, digest: &[u8], mut extra: serde_json::Value) -> Result<()> {
    if as_json {
        extra["mode"] = json!(mode);
        extra["measurement"] = json!(hex::encode(digest));
        print_json(&extra)
    } else {
        println!("{}", hex::encode(digest));
        Ok(())
    }
}

fn read_opt(path: Option<&Path>) -> Result<Option<Vec<u8>>> {
    path.map(|p| read_capped(p, MAX_BOOT_FILE)).transpose()
}

fn read_report(path: &Path) -> Result<SnpReport> {
    // Read a little more than a report so that a wrong file gets the parser's length error.
    let bytes = read_capped(path, 1 << 16)?;
    SnpReport::parse(&bytes).with_context(|| path.display().to_string())
}

/// Parses hex with an optional `0x` prefix, at most 16 digits.
fn parse_hex(s: &str) -> Result<u64> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{s:?} is not a hex number (e.g. 0x21)");
    }
    Ok(u64::from_str_radix(digits, 16)?)
}

fn parse_hash48(s: &str) -> Result<[u8; 48]> {
    let bytes = hex::decode(s).map_err(|_| anyhow::anyhow!("{s:?} is not hex"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow::anyhow!("{} bytes, expected 48", b.len()))
}

fn print_report(r: &SnpReport, as_json: bool) -> Result<()> {
    let tcb = |raw: u64| {
        let t = r.tcb(raw);
        json!({
            "raw": format!("{raw:#018x}"),
            "fmc": t.fmc,
            "bootloader": t.bootloader,
            "tee": t.tee,
            "snp": t.snp,
            "microcode": t.microcode,
        })
    };
    let ver = |(major, minor, build): (u8, u8, u8)| format!("{major}.{minor}.{build}");
    let fields: Vec<(&str, serde_json::Value)> = vec![
        ("version", json!(r.version)),
        ("guest_svn", json!(r.guest_svn)),
        ("policy", json!(format!("{:#x}", r.policy))),
        ("policy_debug", json!(r.policy_debug())),
        ("family_id", json!(hex::encode(r.family_id))),
        ("image_id", json!(hex::encode(r.image_id))),
        ("vmpl", json!(r.vmpl)),
        ("signature_algo", json!(r.signature_algo)),
        ("current_tcb", tcb(r.current_tcb)),
        ("platform_info", json!(format!("{:#x}", r.platform_info))),
        ("author_key_en", json!(r.author_key_en())),
        ("signing_key", json!(r.signing_key())),
        ("report_data", json!(hex::encode(r.report_data))),
        ("measurement", json!(hex::encode(r.measurement))),
        ("host_data", json!(hex::encode(r.host_data))),
        ("id_key_digest", json!(hex::encode(r.id_key_digest))),
        ("author_key_digest", json!(hex::encode(r.author_key_digest))),
        ("report_id", json!(hex::encode(r.report_id))),
        ("report_id_ma", json!(hex::encode(r.report_id_ma))),
        ("reported_tcb", tcb(r.reported_tcb)),
        (
            "cpuid",
            json!(r
                .cpuid
                .map(|(f, m, s)| json!({"family": f, "model": m, "stepping": s}))),
        ),
        ("chip_id", json!(hex::encode(r.chip_id))),
        ("committed_tcb", tcb(r.committed_tcb)),
        ("current_version", json!(ver(r.current_version))),
        ("committed_version", json!(ver(r.committed_version))),
        ("launch_tcb", tcb(r.launch_tcb)),
        ("launch_mit_vector", json!(r.launch_mit_vector)),
        ("current_mit_vector", json!(r.current_mit_vector)),
    ];
    if as_json {
        let map: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        return print_json(&map);
    }
    for (k, v) in fields {
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "-".to_string(),
            serde_json::Value::Object(o) if o.contains_key("raw") => {
                let g = |k: &str| o.get(k).map_or("-".to_string(), |x| x.to_string());
                format!(
                    "{} (fmc {}, bootloader {}, tee {}, snp {}, microcode {})",
                    o.get("raw").and_then(|x| x.as_str()).unwrap_or("-"),
                    g("fmc").replace("null", "-"),
                    g("bootloader"),
                    g("tee"),
                    g("snp"),
                    g("microcode")
                )
            }
            other => other.to_string(),
        };
        println!("{k} {text}");
    }
    Ok(())
}
