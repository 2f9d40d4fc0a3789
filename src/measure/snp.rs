//! The SEV-SNP launch digest: a SHA-384 chain over `PAGE_INFO` records (SEV-SNP firmware ABI,
//! SNP_LAUNCH_UPDATE), one per page the guest is launched with.
//!
//! A record is 0x70 bytes: the digest so far (48), the page's contents hash (48: SHA-384 of a
//! NORMAL or VMSA page, zeros for the other types), u16le length 0x70, u8 page type, u8 IMI
//! flag (0), u8 VMPL3, VMPL2 and VMPL1 permissions (0), u8 reserved (0), u64le GPA. The new
//! digest is SHA-384 of the record.

use sha2::{Digest, Sha384};

use super::ovmf::SectionKind;
use super::vmsa::VmsaPages;
use super::{LaunchParams, MeasureError, Ovmf, SevHashes, VmmType, PAGE_SIZE};

/// GPA recorded for VMSA pages: KVM passes (u64)-1, recorded page-aligned and cut to the
/// 48-bit guest-physical address space.
const VMSA_GPA: u64 = 0xffff_ffff_f000;

/// `PAGE_INFO` page types.
#[derive(Clone, Copy)]
#[repr(u8)]
enum PageType {
    Normal = 1,
    Vmsa = 2,
    Zero = 3,
    Unmeasured = 4,
    Secrets = 5,
    Cpuid = 6,
}

/// The running launch digest ("guest context").
pub(crate) struct Gctx {
    ld: [u8; 48],
}

impl Gctx {
    /// Starts the chain from `seed`: 48 zero bytes, or a precomputed OVMF hash.
    pub(crate) fn new(seed: [u8; 48]) -> Gctx {
        Gctx { ld: seed }
    }

    /// The digest so far.
    pub(crate) fn digest(&self) -> [u8; 48] {
        self.ld
    }

    fn update(&mut self, page_type: PageType, gpa: u64, contents: &[u8; 48]) {
        let mut h = Sha384::new();
        h.update(self.ld);
        h.update(contents);
        h.update(0x70u16.to_le_bytes());
        h.update([page_type as u8, 0, 0, 0, 0, 0]);
        h.update(gpa.to_le_bytes());
        self.ld = h.finalize().into();
    }

    /// NORMAL pages with `data`'s contents (whole pages), starting at `gpa`.
    pub(crate) fn normal_pages(&mut self, gpa: u64, data: &[u8]) {
        for (i, page) in data.chunks(PAGE_SIZE).enumerate() {
            let hash: [u8; 48] = Sha384::digest(page).into();
            self.update(PageType::Normal, gpa + (i * PAGE_SIZE) as u64, &hash);
        }
    }

    /// Pages of a contents-less type over `size` bytes (whole pages) from `gpa`.
    fn empty_pages(&mut self, page_type: PageType, gpa: u32, size: u32) {
        for i in 0..size / PAGE_SIZE as u32 {
            let at = u64::from(gpa) + u64::from(i) * PAGE_SIZE as u64;
            self.update(page_type, at, &[0; 48]);
        }
    }
}

/// The SEV-SNP launch digest; `p` has been checked by [`super::launch_digest`].
pub(crate) fn launch_digest(
    p: &LaunchParams<'_>,
    image: &Ovmf<'_>,
    hashes: Option<&SevHashes>,
) -> Result<[u8; 48], MeasureError> {
    let sections = image.metadata().ok_or(MeasureError::NoSevMetadata)?;
    let kernel_page = match hashes {
        Some(h) => {
            let Some(section) = sections
                .iter()
                .find(|s| s.kind == SectionKind::SnpKernelHashes)
            else {
                return Err(MeasureError::KernelHashesUnsupported(
                    "has no SNP kernel-hashes section in its SEV metadata",
                ));
            };
            let table = image.sev_hashes_table()?;
            if section.size as usize != PAGE_SIZE || table & !0xfff != section.gpa {
                return Err(MeasureError::KernelHashesUnsupported(
                    "places its SEV hashes table outside its one-page SNP kernel-hashes section",
                ));
            }
            Some(h.page((table & 0xfff) as usize)?)
        }
        None => None,
    };
    let vmsa = VmsaPages::new(
        image,
        p.guest_features,
        p.vcpu_sig.unwrap_or(0),
        p.vmm,
        p.vcpus,
    )?;

    let mut g = match p.snp_ovmf_hash {
        Some(seed) => Gctx::new(seed),
        None => {
            let mut g = Gctx::new([0; 48]);
            g.normal_pages(image.gpa(), image.data());
            g
        }
    };
    for s in sections {
        match s.kind {
            SectionKind::SnpSecMem if p.vmm == VmmType::Gce => {
                g.empty_pages(PageType::Unmeasured, s.gpa, s.size)
            }
            SectionKind::SnpSecMem | SectionKind::SvsmCaa => {
                g.empty_pages(PageType::Zero, s.gpa, s.size)
            }
            SectionKind::SnpSecrets => g.empty_pages(PageType::Secrets, s.gpa, s.size),
            SectionKind::Cpuid if p.vmm == VmmType::Ec2 => {} // measured last, below
            SectionKind::Cpuid => g.empty_pages(PageType::Cpuid, s.gpa, s.size),
            SectionKind::SnpKernelHashes => match &kernel_page {
                Some(page) => g.normal_pages(u64::from(s.gpa), page),
                None => g.empty_pages(PageType::Zero, s.gpa, s.size),
            },
        }
    }
    if p.vmm == VmmType::Ec2 {
        for s in sections.iter().filter(|s| s.kind == SectionKind::Cpuid) {
            g.empty_pages(PageType::Cpuid, s.gpa, s.size);
        }
    }
    let bsp: [u8; 48] = Sha384::digest(vmsa.page(0)).into();
    let ap: [u8; 48] = Sha384::digest(vmsa.page(1)).into();
    for i in 0..p.vcpus {
        g.update(PageType::Vmsa, VMSA_GPA, if i == 0 { &bsp } else { &ap });
    }
    Ok(g.digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_info_record() {
        // One NORMAL page of zeros at GPA 0xfffff000, from the zero seed: the record is
        // 48 zero bytes || SHA-384(4096 zeros) || 70 00 01 00 00 00 00 00 || 00 f0 ff ff 00..
        let mut g = Gctx::new([0; 48]);
        g.normal_pages(0xffff_f000, &[0u8; PAGE_SIZE]);
        let mut record = vec![0u8; 48];
        record.extend_from_slice(&Sha384::digest([0u8; PAGE_SIZE]));
        record.extend_from_slice(&[0x70, 0, 1, 0, 0, 0, 0, 0]);
        record.extend_from_slice(&0xffff_f000u64.to_le_bytes());
        assert_eq!(record.len(), 0x70);
        assert_eq!(g.digest()[..], Sha384::digest(&record)[..]);
    }
}
