//! What a release records about an SEV-SNP capable OVMF image so that anyone can compute its
//! SEV-SNP launch measurements from the log alone: the SNP OVMF hash ([`super::snp_ovmf_hash`],
//! the chain state after the firmware pages) and the image's last page, the *SEV tail*, which
//! holds the OVMF footer table and the SEV metadata (log-format.md §9.3, §14.6).

use super::{
    launch_digest, snp_ovmf_hash, LaunchParams, MeasureError, Ovmf, SevMode, VcpuModel, VmShape,
    VmmType, PAGE_SIZE,
};

/// Length of an SEV tail: one page, the image's last.
pub const SEV_TAIL_LEN: usize = PAGE_SIZE;

/// The image's last [`SEV_TAIL_LEN`] bytes; `None` for a shorter image.
pub fn sev_tail(image: &[u8]) -> Option<&[u8]> {
    image
        .len()
        .checked_sub(SEV_TAIL_LEN)
        .and_then(|start| image.get(start..))
}

/// The SEV-SNP launch digest of the image whose SNP OVMF hash is `ovmf_hash` and whose last
/// page is `tail`, launched in `shape` (no direct boot).
pub fn snp_digest_from_tail(
    ovmf_hash: &[u8; 48],
    tail: &[u8],
    shape: &VmShape,
) -> Result<[u8; 48], MeasureError> {
    let params = LaunchParams {
        snp_ovmf_hash: Some(*ovmf_hash),
        ..shape.params(SevMode::Snp, tail)
    };
    to48(launch_digest(&params)?)
}

fn to48(d: Vec<u8>) -> Result<[u8; 48], MeasureError> {
    <[u8; 48]>::try_from(d.as_slice()).map_err(|_| {
        MeasureError::MalformedSevMetadata(format!("digest of {} bytes, expected 48", d.len()))
    })
}

/// The SEV-SNP measurement basis of an OVMF image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnpBasis {
    /// [`super::snp_ovmf_hash`] of the image.
    pub ovmf_hash: [u8; 48],
    /// The image's last page, when it (with `ovmf_hash`) gives the same SEV-SNP measurement as
    /// the whole image in every shape of [`tail_check_shapes`].
    pub tail: Option<Vec<u8>>,
    /// Why `tail` is `None`.
    pub tail_problem: Option<String>,
}

/// The shapes in which [`snp_basis`] compares the tail's measurement with the whole image's:
/// the default shape (which must launch), 2 vCPUs (the AP reset address), guest features 0x21,
/// EC2 (CPUID pages last) and GCE (unmeasured pre-validated memory).
pub fn tail_check_shapes() -> [VmShape; 5] {
    let d = VmShape::default();
    [
        d,
        VmShape { vcpus: 2, ..d },
        VmShape {
            guest_features: 0x21,
            ..d
        },
        VmShape {
            vmm: VmmType::Ec2,
            ..d
        },
        VmShape {
            vmm: VmmType::Gce,
            vcpu: VcpuModel::Sig(0),
            ..d
        },
    ]
}

/// The SEV-SNP measurement basis of `image`: `Ok(None)` when it is not an OVMF image with SEV
/// metadata (not whole pages, no footer table, or a table without the SEV metadata entry);
/// an error when its footer table or metadata is malformed. The tail is kept only when it
/// measures like the whole image in every shape of [`tail_check_shapes`] (the same digest, or
/// an error for both), and the default shape launches.
pub fn snp_basis(image: &[u8]) -> Result<Option<SnpBasis>, MeasureError> {
    if image.is_empty()
        || !image.len().is_multiple_of(PAGE_SIZE)
        || image.len() > super::MAX_IMAGE_SIZE
    {
        return Ok(None);
    }
    if Ovmf::parse(image)?.metadata().is_none() {
        return Ok(None);
    }
    let ovmf_hash = snp_ovmf_hash(image)?;
    let tail = sev_tail(image).ok_or(MeasureError::ImageSize { len: image.len() })?;
    let mut problem = None;
    for (i, shape) in tail_check_shapes().iter().enumerate() {
        // The default shape hashes every page of the whole image; the others start the whole
        // image's chain from the hash just computed (the same value, computed once).
        let full_params = LaunchParams {
            snp_ovmf_hash: (i > 0).then_some(ovmf_hash),
            ..shape.params(SevMode::Snp, image)
        };
        let full = launch_digest(&full_params).and_then(to48);
        let from_tail = snp_digest_from_tail(&ovmf_hash, tail, shape);
        let why = match (&full, &from_tail) {
            (Err(e), _) if i == 0 => Some(format!(
                "the image does not launch as SEV-SNP in the shape {shape}: {e}"
            )),
            (Ok(a), Ok(b)) if a != b => Some(format!(
                "its last page measures differently from the whole image in the shape {shape}"
            )),
            (Ok(_), Err(e)) => Some(format!(
                "its last page alone does not measure in the shape {shape}: {e}"
            )),
            (Err(e), Ok(_)) => Some(format!(
                "its last page measures in the shape {shape}, the whole image does not: {e}"
            )),
            _ => None,
        };
        if why.is_some() {
            problem = why;
            break;
        }
    }
    Ok(Some(SnpBasis {
        ovmf_hash,
        tail: problem.is_none().then(|| tail.to_vec()),
        tail_problem: problem,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random body followed by sev-snp-measure's AmdSev fixture as the last page.
    fn image(pages: usize) -> Vec<u8> {
        let tail = include_bytes!("../../tests/data/vectors/sev/ovmf_AmdSev_suffix.bin");
        let mut img = Vec::with_capacity((pages + 1) * PAGE_SIZE);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while img.len() < pages * PAGE_SIZE {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            img.extend_from_slice(&x.to_le_bytes());
        }
        img.extend_from_slice(tail);
        img
    }

    #[test]
    fn basis_of_an_ovmf_image() {
        let img = image(15);
        let b = snp_basis(&img).unwrap().unwrap();
        assert_eq!(b.ovmf_hash, snp_ovmf_hash(&img).unwrap());
        assert_eq!(b.tail.as_deref(), sev_tail(&img));
        assert_eq!(b.tail_problem, None);
        for shape in tail_check_shapes() {
            let full = launch_digest(&shape.params(SevMode::Snp, &img));
            let tail = snp_digest_from_tail(&b.ovmf_hash, &img[img.len() - 4096..], &shape);
            assert_eq!(
                full.map(|d| d.to_vec()),
                tail.map(|d| d.to_vec()),
                "{shape}"
            );
        }
    }

    #[test]
    fn no_basis_without_sev_metadata() {
        assert_eq!(snp_basis(&[]), Ok(None));
        assert_eq!(snp_basis(&[0; 4095]), Ok(None));
        assert_eq!(snp_basis(&[0x5a; 8192]), Ok(None));
        let x64 = include_bytes!("../../tests/data/vectors/sev/ovmf_OvmfX64_suffix.bin");
        // The OvmfX64 fixture has SEV metadata too.
        assert!(snp_basis(x64).unwrap().is_some());
        // A footer GUID with a broken table is an error, not "no metadata".
        let mut bad = image(1);
        let n = bad.len();
        bad[n - 50] = 3; // the footer entry's total size, below 18
        bad[n - 49] = 0;
        assert!(matches!(
            snp_basis(&bad),
            Err(MeasureError::MalformedFooterTable(_))
        ));
    }

    #[test]
    fn tail_refused_when_metadata_lies_outside_the_last_page() {
        // Copy the fixture's ASEV header one page further from the end and point the SEV
        // metadata entry there: the whole image still measures, its last page alone does not.
        let mut img = image(3);
        let n = img.len();
        let last = n - PAGE_SIZE;
        let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
        let asev = last + find(&img[last..], b"ASEV").unwrap();
        let guid = super::super::ovmf::OVMF_SEV_METADATA_GUID;
        let entry = last + find(&img[last..], guid.as_bytes()).unwrap() - 6;
        let offset = u32::from_le_bytes(img[entry..entry + 4].try_into().unwrap());
        assert_eq!(n - asev, offset as usize);
        let header: Vec<u8> = img[asev..asev + 256].to_vec();
        img[asev - PAGE_SIZE..asev - PAGE_SIZE + 256].copy_from_slice(&header);
        img[entry..entry + 4].copy_from_slice(&(offset + PAGE_SIZE as u32).to_le_bytes());
        img[asev..asev + 4].copy_from_slice(b"XXXX");
        let b = snp_basis(&img).unwrap().unwrap();
        assert_eq!(b.ovmf_hash, snp_ovmf_hash(&img).unwrap());
        assert!(b.tail.is_none(), "{b:?}");
        let why = b.tail_problem.unwrap();
        assert!(why.contains("last page alone does not measure"), "{why}");
    }
}
