//! A reader for raw SEV-SNP attestation reports (SEV-SNP firmware ABI, `ATTESTATION_REPORT`,
//! 0x4a0 = 1184 bytes, report versions 2 to 5), as `/dev/sev-guest` or `snpguest report`
//! returns them. It extracts fields; it does not verify the signature.
//!
//! Offsets (integers little-endian, `[N]` an N-byte string):
//!
//! | offset | field | offset | field |
//! |---|---|---|---|
//! | 0x00 | version u32 | 0x110 | author_key_digest \[48\] |
//! | 0x04 | guest_svn u32 | 0x140 | report_id \[32\] |
//! | 0x08 | policy u64 | 0x160 | report_id_ma \[32\] |
//! | 0x10 | family_id \[16\] | 0x180 | reported_tcb u64 |
//! | 0x20 | image_id \[16\] | 0x188 | cpuid family, model, stepping u8 (v3+) |
//! | 0x30 | vmpl u32 | 0x1a0 | chip_id \[64\] |
//! | 0x34 | signature_algo u32 | 0x1e0 | committed_tcb u64 |
//! | 0x38 | current_tcb u64 | 0x1e8 | current build, minor, major u8 |
//! | 0x40 | platform_info u64 | 0x1ec | committed build, minor, major u8 |
//! | 0x48 | key_info u32 | 0x1f0 | launch_tcb u64 |
//! | 0x50 | report_data \[64\] | 0x1f8 | launch_mit_vector u64 (v5+) |
//! | 0x90 | measurement \[48\] | 0x200 | current_mit_vector u64 (v5+) |
//! | 0xc0 | host_data \[32\] | 0x2a0 | signature R \[72\], S \[72\], reserved |
//! | 0xe0 | id_key_digest \[48\] | 0x4a0 | end |
//!
//! key_info: bit 0 author_key_en, bit 1 mask_chip_key, bits 4:2 signing_key.

use super::MeasureError;

/// Length of a raw attestation report.
pub const SNP_REPORT_LEN: usize = 0x4a0;

/// Offset of the signature; the signed bytes are those before it.
pub const SNP_REPORT_SIGNED_LEN: usize = 0x2a0;

/// A TCB version split into its component security version numbers. Milan and Genoa (CPU
/// families 0x19 and below) lay it out as bootloader, TEE, 4 reserved bytes, SNP, microcode;
/// Turin and later (family 0x1a and up) as FMC, bootloader, TEE, SNP, 3 reserved, microcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcbVersion {
    /// The raw 64-bit value.
    pub raw: u64,
    /// FMC SVN (Turin and later only).
    pub fmc: Option<u8>,
    /// Bootloader SVN.
    pub bootloader: u8,
    /// PSP OS (TEE) SVN.
    pub tee: u8,
    /// SNP firmware SVN.
    pub snp: u8,
    /// Microcode patch level.
    pub microcode: u8,
}

impl TcbVersion {
    /// Splits `raw` by the layout of CPU family `family` (Turin layout from 0x1a up).
    pub fn decode(raw: u64, family: u8) -> TcbVersion {
        let b = raw.to_le_bytes();
        if family >= 0x1a {
            TcbVersion {
                raw,
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            }
        } else {
            TcbVersion {
                raw,
                fmc: None,
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            }
        }
    }
}

/// The fields of a raw SEV-SNP attestation report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnpReport {
    /// Report format version (2 to 5).
    pub version: u32,
    /// Guest SVN from the ID block.
    pub guest_svn: u32,
    /// Guest policy.
    pub policy: u64,
    /// Family ID from the ID block.
    pub family_id: [u8; 16],
    /// Image ID from the ID block.
    pub image_id: [u8; 16],
    /// VMPL the report was requested from.
    pub vmpl: u32,
    /// Signature algorithm (1 = ECDSA P-384 with SHA-384).
    pub signature_algo: u32,
    /// Current TCB (raw).
    pub current_tcb: u64,
    /// Platform information bits (SMT enabled, TSME enabled, …).
    pub platform_info: u64,
    /// Key information (author_key_en, mask_chip_key, signing_key).
    pub key_info: u32,
    /// Data supplied by the guest when requesting the report.
    pub report_data: [u8; 64],
    /// The launch measurement: what [`super::launch_digest`] computes for SEV-SNP.
    pub measurement: [u8; 48],
    /// Data supplied by the host at launch.
    pub host_data: [u8; 32],
    /// SHA-384 of the ID key that signed the ID block (zeros without one).
    pub id_key_digest: [u8; 48],
    /// SHA-384 of the author key (zeros without one).
    pub author_key_digest: [u8; 48],
    /// Report ID of the guest.
    pub report_id: [u8; 32],
    /// Report ID of the guest's migration agent.
    pub report_id_ma: [u8; 32],
    /// TCB version the VCEK that signed the report was derived from (raw).
    pub reported_tcb: u64,
    /// CPUID family, model and stepping (report version 3 and later).
    pub cpuid: Option<(u8, u8, u8)>,
    /// Chip identifier (zeros when masked).
    pub chip_id: [u8; 64],
    /// Committed TCB (raw).
    pub committed_tcb: u64,
    /// Current firmware version: major, minor, build.
    pub current_version: (u8, u8, u8),
    /// Committed firmware version: major, minor, build.
    pub committed_version: (u8, u8, u8),
    /// The current TCB when the guest was launched (raw).
    pub launch_tcb: u64,
    /// Launch mitigation vector (report version 5 and later).
    pub launch_mit_vector: Option<u64>,
    /// Current mitigation vector (report version 5 and later).
    pub current_mit_vector: Option<u64>,
    /// Signature R component, little-endian, zero-extended to 72 bytes.
    pub signature_r: [u8; 72],
    /// Signature S component, little-endian, zero-extended to 72 bytes.
    pub signature_s: [u8; 72],
}

fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(arr(b, at))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(arr(b, at))
}

fn version_at(b: &[u8], at: usize) -> (u8, u8, u8) {
    let [build, minor, major] = arr(b, at);
    (major, minor, build)
}

impl SnpReport {
    /// Parses a raw report: exactly [`SNP_REPORT_LEN`] bytes of version 2 to 5.
    pub fn parse(b: &[u8]) -> Result<SnpReport, MeasureError> {
        if b.len() != SNP_REPORT_LEN {
            return Err(MeasureError::ReportLength(b.len()));
        }
        let version = u32_at(b, 0);
        if !(2..=5).contains(&version) {
            return Err(MeasureError::ReportVersion(version));
        }
        let [fam, model, step] = arr(b, 0x188);
        Ok(SnpReport {
            version,
            guest_svn: u32_at(b, 0x04),
            policy: u64_at(b, 0x08),
            family_id: arr(b, 0x10),
            image_id: arr(b, 0x20),
            vmpl: u32_at(b, 0x30),
            signature_algo: u32_at(b, 0x34),
            current_tcb: u64_at(b, 0x38),
            platform_info: u64_at(b, 0x40),
            key_info: u32_at(b, 0x48),
            report_data: arr(b, 0x50),
            measurement: arr(b, 0x90),
            host_data: arr(b, 0xc0),
            id_key_digest: arr(b, 0xe0),
            author_key_digest: arr(b, 0x110),
            report_id: arr(b, 0x140),
            report_id_ma: arr(b, 0x160),
            reported_tcb: u64_at(b, 0x180),
            cpuid: (version >= 3).then_some((fam, model, step)),
            chip_id: arr(b, 0x1a0),
            committed_tcb: u64_at(b, 0x1e0),
            current_version: version_at(b, 0x1e8),
            committed_version: version_at(b, 0x1ec),
            launch_tcb: u64_at(b, 0x1f0),
            launch_mit_vector: (version >= 5).then(|| u64_at(b, 0x1f8)),
            current_mit_vector: (version >= 5).then(|| u64_at(b, 0x200)),
            signature_r: arr(b, 0x2a0),
            signature_s: arr(b, 0x2e8),
        })
    }

    /// Splits a raw TCB value of this report by its CPU's layout (Milan/Genoa layout when the
    /// report, version 2, does not name the CPU family).
    pub fn tcb(&self, raw: u64) -> TcbVersion {
        TcbVersion::decode(raw, self.cpuid.map_or(0x19, |c| c.0))
    }

    /// Whether the guest policy allows debugging (bit 19): its memory is then not confidential.
    pub fn policy_debug(&self) -> bool {
        self.policy & (1 << 19) != 0
    }

    /// Whether an author key certified the ID key (key_info bit 0).
    pub fn author_key_en(&self) -> bool {
        self.key_info & 1 != 0
    }

    /// Which key signed the report (key_info bits 4:2): 0 VCEK, 1 VLEK, 7 none.
    pub fn signing_key(&self) -> u32 {
        (self.key_info >> 2) & 7
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: u32) -> Vec<u8> {
        let mut b = vec![0u8; SNP_REPORT_LEN];
        b[0..4].copy_from_slice(&version.to_le_bytes());
        b[0x08..0x10].copy_from_slice(&0x30000u64.to_le_bytes());
        b[0x34] = 1;
        b[0x38..0x40].copy_from_slice(&[3, 0, 0, 0, 0, 0, 8, 115]);
        b[0x48] = 0b101;
        for (i, x) in b[0x90..0xc0].iter_mut().enumerate() {
            *x = i as u8;
        }
        b[0x188..0x18b].copy_from_slice(&[0x19, 1, 1]);
        b[0x1e8..0x1eb].copy_from_slice(&[21, 55, 1]);
        b[0x1f8] = 9;
        b[0x2a0] = 0xaa;
        b[0x2e8] = 0xbb;
        b
    }

    #[test]
    fn parses_fields() {
        let r = SnpReport::parse(&sample(3)).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.policy, 0x30000);
        assert_eq!(r.signature_algo, 1);
        assert_eq!(r.measurement[0], 0);
        assert_eq!(r.measurement[47], 47);
        assert_eq!(r.cpuid, Some((0x19, 1, 1)));
        assert_eq!(r.current_version, (1, 55, 21));
        assert_eq!(r.launch_mit_vector, None);
        assert!(r.author_key_en());
        assert_eq!(r.signing_key(), 1);
        let tcb = r.tcb(r.current_tcb);
        assert_eq!((tcb.bootloader, tcb.snp, tcb.microcode), (3, 8, 115));
        assert_eq!((r.signature_r[0], r.signature_s[0]), (0xaa, 0xbb));
        let v5 = SnpReport::parse(&sample(5)).unwrap();
        assert_eq!(v5.launch_mit_vector, Some(9));
        let v2 = SnpReport::parse(&sample(2)).unwrap();
        assert_eq!(v2.cpuid, None);
        let turin = TcbVersion::decode(u64::from_le_bytes([1, 2, 3, 4, 0, 0, 0, 5]), 0x1a);
        assert_eq!(turin.fmc, Some(1));
        assert_eq!(
            (turin.bootloader, turin.tee, turin.snp, turin.microcode),
            (2, 3, 4, 5)
        );
    }

    #[test]
    fn strict_length_and_version() {
        let b = sample(3);
        assert_eq!(
            SnpReport::parse(&b[..1183]),
            Err(MeasureError::ReportLength(1183))
        );
        let mut long = b.clone();
        long.push(0);
        assert_eq!(
            SnpReport::parse(&long),
            Err(MeasureError::ReportLength(1185))
        );
        assert_eq!(SnpReport::parse(&[]), Err(MeasureError::ReportLength(0)));
        for v in [0, 1, 6, u32::MAX] {
            assert_eq!(
                SnpReport::parse(&sample(v)),
                Err(MeasureError::ReportVersion(v))
            );
        }
    }
}
