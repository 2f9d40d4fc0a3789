//! `measure`: OVMF footer table and SEV metadata parsing, launch digests, SNP reports.

use fwlog::measure::report::SNP_REPORT_LEN;
use fwlog::measure::{
    self, LaunchParams, Ovmf, SectionKind, SevMode, SnpReport, VmmType, PAGE_SIZE,
};

use super::input::Input;

/// Most pages the SEV metadata of a fuzzed image may declare before the target skips the
/// launch digests: each section may declare up to 4 GiB, hashed one 4 KiB page at a time.
const MAX_MEASURED_PAGES: u64 = 1024;

/// A few parameters, then the image: the rest of the input placed at the END of whole zero
/// pages (the footer table and metadata are found from the image's end). `SnpReport::parse`
/// sees the raw input and the image bytes cut or padded to a report's length.
pub fn measure(data: &[u8]) {
    let _ = SnpReport::parse(data);
    let mut input = Input::new(data);
    let selector = input.u8();
    let vcpus = 1 + u32::from(input.u8() % 4);
    let vcpu_sig = input.u32();
    let guest_features = input.u64();
    let body = input.rest();

    let mut report = body.to_vec();
    report.resize(SNP_REPORT_LEN, 0);
    if let Ok(r) = SnpReport::parse(&report) {
        let _ = (r.tcb(r.current_tcb), r.policy_debug(), r.author_key_en());
        let _ = r.signing_key();
    }

    let pages = body.len().div_ceil(PAGE_SIZE).max(1);
    let mut image = vec![0u8; pages * PAGE_SIZE];
    let at = image.len() - body.len();
    image[at..].copy_from_slice(body);
    let _ = Ovmf::parse(body);
    let Ok(ovmf) = Ovmf::parse(&image) else {
        return;
    };
    assert_eq!(ovmf.data().len(), image.len());
    let _ = (ovmf.gpa(), ovmf.footer_table(), ovmf.metadata());
    let _ = (ovmf.sev_es_reset_eip(), ovmf.sev_hashes_table());
    for kind in [
        SectionKind::SnpSecMem,
        SectionKind::SnpSecrets,
        SectionKind::Cpuid,
        SectionKind::SvsmCaa,
        SectionKind::SnpKernelHashes,
    ] {
        let _ = ovmf.has_section(kind);
    }
    let declared: u64 = ovmf
        .metadata()
        .unwrap_or_default()
        .iter()
        .map(|s| u64::from(s.size) / PAGE_SIZE as u64)
        .sum();
    if declared > MAX_MEASURED_PAGES {
        return;
    }

    let vmm = match selector >> 2 & 3 {
        0 | 3 => VmmType::Qemu,
        1 => VmmType::Ec2,
        _ => VmmType::Gce,
    };
    let kernel: &[u8] = b"fuzz kernel";
    let ovmf_hash = measure::snp_ovmf_hash(&image).expect("whole pages");
    for mode in [SevMode::Sev, SevMode::SevEs, SevMode::Snp] {
        let mut p = LaunchParams::new(mode, &image);
        p.vcpus = vcpus;
        p.vcpu_sig = (selector & 1 == 0).then_some(vcpu_sig);
        p.guest_features = guest_features;
        p.vmm = vmm;
        if selector & 2 != 0 {
            p.kernel = Some(kernel);
            p.initrd = (selector & 16 != 0).then_some(b"initrd".as_slice());
            p.append = (selector & 32 != 0).then_some("console=ttyS0");
        }
        if let Ok(d) = measure::launch_digest(&p) {
            assert_eq!(d.len(), mode.digest_len());
            if mode == SevMode::Snp {
                // Starting from the precomputed firmware hash gives the same digest.
                p.snp_ovmf_hash = Some(ovmf_hash);
                assert_eq!(measure::launch_digest(&p), Ok(d));
            }
        }
    }
}
