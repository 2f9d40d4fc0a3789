//! AMD SEV, SEV-ES and SEV-SNP launch measurements of OVMF firmware images, and a reader for raw
//! SEV-SNP attestation reports.
//!
//! A guest owner who knows which firmware release (and which direct-boot kernel, initrd and
//! command line) a confidential VM should run computes here the launch measurement the AMD
//! secure processor will report for it, and compares it with the `MEASUREMENT` field of the
//! VM's attestation report ([`SnpReport`]). `log-format.md` §14 describes every byte.
//!
//! - **SEV**: SHA-256 over the firmware image, followed by the padded 176-byte kernel-hashes
//!   table ([`SevHashes`]) when QEMU measured a direct-boot kernel.
//! - **SEV-ES**: the same running SHA-256, continued over one 4 KiB VMSA page per vCPU
//!   ([`vmsa`]).
//! - **SEV-SNP**: a SHA-384 chain that starts from 48 zero bytes and absorbs one 0x70-byte
//!   `PAGE_INFO` record per page: the firmware pages at 4 GiB minus the image size (the digest
//!   at that point is [`snp_ovmf_hash`]), then the sections of the image's `ASEV` SEV metadata
//!   ([`ovmf`]), then one VMSA page per vCPU.
//!
//! A release log records, for an SEV-SNP capable OVMF image, its SNP OVMF hash and its last page
//! ([`snp_basis`]); with them anyone computes the image's SEV-SNP measurement in any
//! [`VmShape`] ([`snp_digest_from_tail`]) without the image.
//!
//! The reference is virtee/sev-snp-measure v0.0.13 (Python); every one of the 60 SEV / SEV-ES /
//! SEV-SNP digests in `tests/data/vectors/sev/sev.json` that it computed is reproduced byte for
//! byte by `tests/measure_vectors.rs`.
//!
//! # Own implementation rather than the `sev` crate
//!
//! virtee's `sev` crate (8.0.0) also computes SNP digests. We implement the measurement here
//! (about 1,400 lines with docs and the report reader, on `sha2` and `hex`, which fwlog already
//! uses) instead, on these measured grounds:
//! - *coverage*: `sev` 8.0.0 has no GCE VMM model (its `VMMType` is QEMU, EC2 or KRUN) and takes
//!   a vCPU type from a fixed list rather than a signature, so it cannot reproduce the 16 GCE
//!   vectors of sev.json; its measurement API takes file paths, not bytes.
//! - *agreement*: its EC2 VMSA has RDX 0 where sev-snp-measure 0.0.13 has 0x600, so for Debian's
//!   OVMF.fd the two agree on every QEMU SNP digest and disagree on every EC2 one.
//! - *weight*: its `measurement` module needs OpenSSL (vendored by default) or the
//!   `crypto_nossl` feature. The lightest configuration (`default-features = false`,
//!   `features = ["snp", "crypto_nossl"]`) resolves to 94 crates, 40 of which fwlog does not
//!   build today (`p384`, `rsa`, `x509-cert`, `ecdsa`, `crypto-bigint`, `num-bigint-dig`,
//!   `bitfield`, `uuid`, `dirs`, `iocuddle`, …); its cold release build took 1 min 31 s wall,
//!   46 s CPU on a two-core machine.
//! - *correctness* is established by the vectors, not by the dependency: the 60 digests from the
//!   reference implementation pin every byte of this one.

mod basis;
pub mod ovmf;
pub mod report;
mod sev_hashes;
mod shape;
mod snp;
pub mod vcpu;
pub mod vmsa;

use sha2::{Digest, Sha256};
use thiserror::Error;

pub use basis::{
    sev_tail, snp_basis, snp_digest_from_tail, tail_check_shapes, SnpBasis, SEV_TAIL_LEN,
};
pub use ovmf::{Guid, MetadataSection, Ovmf, SectionKind};
pub use report::{SnpReport, TcbVersion};
pub use sev_hashes::{SevHashes, SEV_HASH_TABLE_LEN, SEV_HASH_TABLE_PADDED_LEN};
pub use shape::{VcpuModel, VmShape, DEFAULT_VCPU_TYPE};
pub use vcpu::{cpu_sig, vcpu_sig_by_name, VCPU_TYPES};

/// Size of a guest page, and the granularity of everything measured.
pub const PAGE_SIZE: usize = 4096;

/// Largest firmware image accepted (128 MiB); real OVMF images are 1–8 MiB.
pub const MAX_IMAGE_SIZE: usize = 128 << 20;

/// Largest vCPU count accepted for SEV-ES and SEV-SNP.
pub const MAX_VCPUS: u32 = 4096;

/// Guest features (VMSA `SEV_FEATURES`) used when none are given: `SNPActive` only, as
/// sev-snp-measure assumes. Hosts running Linux 6.6 or later use `0x21` (with `DebugSwap`).
pub const DEFAULT_GUEST_FEATURES: u64 = 0x1;

/// The SEV flavour of the guest, which decides what is measured and with which hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SevMode {
    /// SEV: SHA-256 over the firmware (and kernel hashes); 32-byte digest.
    Sev,
    /// SEV-ES: SEV plus one VMSA page per vCPU; 32-byte digest.
    SevEs,
    /// SEV-SNP: SHA-384 chain over `PAGE_INFO` records; 48-byte digest.
    Snp,
}

impl SevMode {
    /// The mode's name as sev-snp-measure spells it: `sev`, `seves` or `snp`.
    pub fn name(self) -> &'static str {
        match self {
            SevMode::Sev => "sev",
            SevMode::SevEs => "seves",
            SevMode::Snp => "snp",
        }
    }

    /// Length of the launch digest in bytes: 32 for SEV and SEV-ES, 48 for SEV-SNP.
    pub fn digest_len(self) -> usize {
        match self {
            SevMode::Sev | SevMode::SevEs => 32,
            SevMode::Snp => 48,
        }
    }
}

/// The VMM that launches the guest; it decides a few initial register values and, for EC2 and
/// GCE, how some metadata sections are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmmType {
    /// QEMU/KVM (the default).
    Qemu,
    /// Amazon EC2.
    Ec2,
    /// Google Compute Engine.
    Gce,
}

impl VmmType {
    /// The VMM's name: `qemu`, `ec2` or `gce`.
    pub fn name(self) -> &'static str {
        match self {
            VmmType::Qemu => "qemu",
            VmmType::Ec2 => "ec2",
            VmmType::Gce => "gce",
        }
    }

    /// The VMM named `qemu`, `ec2` or `gce`.
    pub fn from_name(name: &str) -> Option<VmmType> {
        [VmmType::Qemu, VmmType::Ec2, VmmType::Gce]
            .into_iter()
            .find(|v| v.name() == name)
    }
}

/// Everything that can go wrong computing a measurement or reading a report.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MeasureError {
    /// The firmware image is empty, not whole pages, or too large.
    #[error("firmware image is {len} bytes: it must be a non-zero multiple of 4096 bytes, at most {MAX_IMAGE_SIZE}")]
    ImageSize {
        /// The image's length.
        len: usize,
    },
    /// The image has no OVMF footer table (GUID 96b582de-…) 32 bytes before its end.
    #[error(
        "firmware image has no OVMF footer table (GUID {}) at its end",
        ovmf::OVMF_TABLE_FOOTER_GUID
    )]
    NoFooterTable,
    /// The OVMF footer table is present but malformed.
    #[error("malformed OVMF footer table: {0}")]
    MalformedFooterTable(String),
    /// A footer-table entry the computation needs is missing.
    #[error("firmware image has no {name} entry (GUID {guid}) in its OVMF footer table")]
    MissingTableEntry {
        /// What the entry is.
        name: &'static str,
        /// The entry's GUID.
        guid: Guid,
    },
    /// The image has no SEV metadata (`ASEV`), which SEV-SNP needs.
    #[error("firmware image has no SEV metadata (no ASEV section referenced by GUID {}); it cannot launch as SEV-SNP", ovmf::OVMF_SEV_METADATA_GUID)]
    NoSevMetadata,
    /// The SEV metadata is present but malformed.
    #[error("malformed SEV metadata: {0}")]
    MalformedSevMetadata(String),
    /// A kernel, initrd or command line was given but the image cannot measure them.
    #[error("kernel/initrd/append given, but the firmware image {0}")]
    KernelHashesUnsupported(&'static str),
    /// An initrd or command line was given without a kernel.
    #[error("--initrd and --append need --kernel")]
    DirectBootWithoutKernel,
    /// The kernel command line contains a NUL byte, which QEMU cannot pass.
    #[error("kernel command line contains a NUL byte")]
    AppendHasNul,
    /// The vCPU type name is not in [`VCPU_TYPES`].
    #[error("unknown vCPU type {0:?} (known: {known})", known = vcpu::known_names())]
    UnknownVcpuType(String),
    /// QEMU puts the vCPU signature in RDX, so SEV-ES and SEV-SNP under QEMU need one.
    #[error("{0} under QEMU needs a vCPU type or signature")]
    MissingVcpuSig(&'static str),
    /// The vCPU count is zero or larger than [`MAX_VCPUS`].
    #[error("vCPU count {0} is out of range 1..={MAX_VCPUS}")]
    VcpuCount(u32),
    /// More than one vCPU, but the image's SEV-ES reset block gives AP reset address 0.
    #[error("firmware image's SEV-ES reset block has AP reset address 0; it cannot start more than one vCPU")]
    NoApResetAddress,
    /// SEV-SNP guest features must include `SNPActive` (bit 0).
    #[error("SEV-SNP guest features {0:#x} lack SNPActive (bit 0)")]
    GuestFeatures(u64),
    /// A precomputed SNP OVMF hash was given for a mode other than SEV-SNP.
    #[error("a precomputed SNP OVMF hash only applies to mode snp")]
    SnpOvmfHashNeedsSnp,
    /// A VM shape (`vcpus=N,type=NAME,vmm=…,features=0x…`) that does not parse.
    #[error("VM shape: {0}")]
    VmShape(String),
    /// An SNP attestation report that is not exactly [`report::SNP_REPORT_LEN`] bytes.
    #[error("SNP attestation report is {0} bytes, expected exactly {len}", len = report::SNP_REPORT_LEN)]
    ReportLength(usize),
    /// An SNP attestation report version this reader does not know.
    #[error("unsupported SNP attestation report version {0} (supported: 2 to 5)")]
    ReportVersion(u32),
}

/// Inputs of a launch measurement. Build with [`LaunchParams::new`] and set what differs from
/// sev-snp-measure's defaults (1 vCPU, QEMU, guest features 0x1, no direct boot).
#[derive(Clone, Copy)]
pub struct LaunchParams<'a> {
    /// SEV, SEV-ES or SEV-SNP.
    pub mode: SevMode,
    /// The exact firmware image (OVMF.fd) QEMU maps below 4 GiB.
    pub image: &'a [u8],
    /// Number of vCPUs (SEV-ES and SEV-SNP; ignored for SEV).
    pub vcpus: u32,
    /// CPUID signature of the vCPU model (see [`VCPU_TYPES`]); QEMU puts it in RDX. Needed
    /// for SEV-ES and SEV-SNP under QEMU, unused by EC2 and GCE.
    pub vcpu_sig: Option<u32>,
    /// SEV-SNP guest features (VMSA `SEV_FEATURES`); ignored for SEV and SEV-ES.
    pub guest_features: u64,
    /// The VMM model.
    pub vmm: VmmType,
    /// Direct-boot kernel (QEMU `-kernel`), if any.
    pub kernel: Option<&'a [u8]>,
    /// Direct-boot initrd (QEMU `-initrd`); needs `kernel`. Absent is measured as empty.
    pub initrd: Option<&'a [u8]>,
    /// Kernel command line (QEMU `-append`); needs `kernel`. Absent is measured as empty.
    pub append: Option<&'a str>,
    /// SEV-SNP only: the digest after the firmware pages ([`snp_ovmf_hash`] of the full
    /// image), to start the chain from instead of hashing `image`'s pages. `image` then only
    /// supplies the footer table and SEV metadata (its last pages suffice).
    pub snp_ovmf_hash: Option<[u8; 48]>,
}

impl<'a> LaunchParams<'a> {
    /// Parameters with sev-snp-measure's defaults: 1 vCPU, no vCPU signature, guest features
    /// [`DEFAULT_GUEST_FEATURES`], QEMU, no direct boot, no precomputed OVMF hash.
    pub fn new(mode: SevMode, image: &'a [u8]) -> Self {
        LaunchParams {
            mode,
            image,
            vcpus: 1,
            vcpu_sig: None,
            guest_features: DEFAULT_GUEST_FEATURES,
            vmm: VmmType::Qemu,
            kernel: None,
            initrd: None,
            append: None,
            snp_ovmf_hash: None,
        }
    }
}

/// The SEV-SNP digest after the firmware's pages alone (sev-snp-measure's `snp:ovmf-hash`):
/// the chain from 48 zero bytes over every 4 KiB page of `image` as a NORMAL page at
/// 4 GiB − `image.len()`. Publish it to let others measure from the image's last pages.
pub fn snp_ovmf_hash(image: &[u8]) -> Result<[u8; 48], MeasureError> {
    check_image_size(image)?;
    let mut gctx = snp::Gctx::new([0; 48]);
    gctx.normal_pages(ovmf::image_gpa(image.len()), image);
    Ok(gctx.digest())
}

/// The launch digest QEMU's launch sequence leaves in the secure processor: 32 bytes
/// (SHA-256) for SEV and SEV-ES, 48 bytes (SHA-384, the report's `MEASUREMENT`) for SEV-SNP.
pub fn launch_digest(params: &LaunchParams<'_>) -> Result<Vec<u8>, MeasureError> {
    let p = params;
    if p.snp_ovmf_hash.is_some() && p.mode != SevMode::Snp {
        return Err(MeasureError::SnpOvmfHashNeedsSnp);
    }
    if p.kernel.is_none() && (p.initrd.is_some() || p.append.is_some()) {
        return Err(MeasureError::DirectBootWithoutKernel);
    }
    if p.mode != SevMode::Sev {
        if p.vcpus == 0 || p.vcpus > MAX_VCPUS {
            return Err(MeasureError::VcpuCount(p.vcpus));
        }
        if p.vmm == VmmType::Qemu && p.vcpu_sig.is_none() {
            return Err(MeasureError::MissingVcpuSig(if p.mode == SevMode::Snp {
                "SEV-SNP"
            } else {
                "SEV-ES"
            }));
        }
    }
    if p.mode == SevMode::Snp && p.guest_features & 1 == 0 {
        return Err(MeasureError::GuestFeatures(p.guest_features));
    }
    let image = Ovmf::parse(p.image)?;
    let hashes = match p.kernel {
        Some(kernel) => Some(SevHashes::new(kernel, p.initrd, p.append)?),
        None => None,
    };
    match p.mode {
        SevMode::Sev | SevMode::SevEs => sev_digest(p, &image, hashes.as_ref()),
        SevMode::Snp => snp::launch_digest(p, &image, hashes.as_ref()).map(|d| d.to_vec()),
    }
}

/// SEV and SEV-ES: one running SHA-256 over the image, the padded hashes table and (SEV-ES)
/// the VMSA pages.
fn sev_digest(
    p: &LaunchParams<'_>,
    image: &Ovmf<'_>,
    hashes: Option<&SevHashes>,
) -> Result<Vec<u8>, MeasureError> {
    let mut h = Sha256::new();
    h.update(image.data());
    if let Some(hashes) = hashes {
        image.sev_hashes_table()?;
        h.update(hashes.table());
    }
    if p.mode == SevMode::SevEs {
        let pages = vmsa::VmsaPages::new(image, 0, p.vcpu_sig.unwrap_or(0), p.vmm, p.vcpus)?;
        for i in 0..p.vcpus {
            h.update(pages.page(i));
        }
    }
    Ok(h.finalize().to_vec())
}

/// Checks that an image is a non-zero number of whole pages, at most [`MAX_IMAGE_SIZE`].
fn check_image_size(image: &[u8]) -> Result<(), MeasureError> {
    let len = image.len();
    if len == 0 || !len.is_multiple_of(PAGE_SIZE) || len > MAX_IMAGE_SIZE {
        return Err(MeasureError::ImageSize { len });
    }
    Ok(())
}
