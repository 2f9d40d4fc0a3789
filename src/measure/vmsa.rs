//! Initial VMSA pages (the encrypted vCPU register save area, AMD APM vol. 2 table B-4) that
//! SEV-ES and SEV-SNP measure, one 4 KiB page per vCPU.
//!
//! Every field not listed here is zero. The bootstrap processor (vCPU 0) starts at the reset
//! vector 0xfffffff0; application processors start at the SEV-ES reset block's address. In both,
//! CS base is the address's upper 16 bits and RIP its lower 16. The VMMs differ:
//!
//! | field | QEMU | EC2 | GCE |
//! |---|---|---|---|
//! | CS attributes | 0x9b | 0x9a (BSP), 0x9b (AP) | 0x9b |
//! | SS / TR attributes | 0x93 / 0x8b | 0x92 / 0x83 | 0x93 / 0x8b |
//! | RDX | vCPU signature | 0x600 | 0x600 |
//! | G_PAT | 0x0007040600070406 | same | 0x00070106 |
//! | MXCSR / x87 FCW | 0x1f80 / 0x37f | 0 / 0 | 0 / 0 |

use super::{MeasureError, Ovmf, VmmType, PAGE_SIZE};

/// Reset address of the bootstrap processor.
pub const BSP_EIP: u32 = 0xffff_fff0;

// Field offsets in the save area.
const ES: usize = 0x00;
const CS: usize = 0x10;
const SS: usize = 0x20;
const DS: usize = 0x30;
const FS: usize = 0x40;
const GS: usize = 0x50;
const GDTR: usize = 0x60;
const LDTR: usize = 0x70;
const IDTR: usize = 0x80;
const TR: usize = 0x90;
const EFER: usize = 0xd0;
const CR4: usize = 0x148;
const CR0: usize = 0x158;
const DR7: usize = 0x160;
const DR6: usize = 0x168;
const RFLAGS: usize = 0x170;
const RIP: usize = 0x178;
const G_PAT: usize = 0x268;
const RDX: usize = 0x310;
const SEV_FEATURES: usize = 0x3b0;
const XCR0: usize = 0x3e8;
const MXCSR: usize = 0x408;
const X87_FCW: usize = 0x410;

/// One VMSA page.
pub type VmsaPage = [u8; PAGE_SIZE];

fn put(page: &mut VmsaPage, at: usize, bytes: &[u8]) {
    if let Some(dst) = page.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Writes a segment register: selector, attributes, limit, base.
fn seg(page: &mut VmsaPage, at: usize, selector: u16, attrib: u16, limit: u32, base: u64) {
    put(page, at, &selector.to_le_bytes());
    put(page, at + 2, &attrib.to_le_bytes());
    put(page, at + 4, &limit.to_le_bytes());
    put(page, at + 8, &base.to_le_bytes());
}

/// The VMSA page of a vCPU starting at `eip` with these SEV features (0 for SEV-ES, the guest
/// features for SEV-SNP), vCPU signature (QEMU's RDX) and VMM.
pub fn save_area(eip: u32, sev_features: u64, vcpu_sig: u32, vmm: VmmType) -> Box<VmsaPage> {
    let (cs_attr, ss_attr, tr_attr, rdx, g_pat, mxcsr, fcw): (u16, u16, u16, u64, u64, u32, u16) =
        match vmm {
            VmmType::Qemu => (
                0x9b,
                0x93,
                0x8b,
                u64::from(vcpu_sig),
                0x0007_0406_0007_0406,
                0x1f80,
                0x37f,
            ),
            VmmType::Ec2 => {
                let cs = if eip == BSP_EIP { 0x9a } else { 0x9b };
                (cs, 0x92, 0x83, 0x600, 0x0007_0406_0007_0406, 0, 0)
            }
            VmmType::Gce => (0x9b, 0x93, 0x8b, 0x600, 0x0007_0106, 0, 0),
        };
    let mut p: Box<VmsaPage> = Box::new([0u8; PAGE_SIZE]);
    seg(&mut p, ES, 0, 0x93, 0xffff, 0);
    seg(
        &mut p,
        CS,
        0xf000,
        cs_attr,
        0xffff,
        u64::from(eip & 0xffff_0000),
    );
    seg(&mut p, SS, 0, ss_attr, 0xffff, 0);
    seg(&mut p, DS, 0, 0x93, 0xffff, 0);
    seg(&mut p, FS, 0, 0x93, 0xffff, 0);
    seg(&mut p, GS, 0, 0x93, 0xffff, 0);
    seg(&mut p, GDTR, 0, 0, 0xffff, 0);
    seg(&mut p, LDTR, 0, 0x82, 0xffff, 0);
    seg(&mut p, IDTR, 0, 0, 0xffff, 0);
    seg(&mut p, TR, 0, tr_attr, 0xffff, 0);
    for (at, v) in [
        (EFER, 0x1000u64), // EFER.SVME, set by KVM
        (CR4, 0x40),       // CR4.MCE, set by KVM
        (CR0, 0x10),
        (DR7, 0x400),
        (DR6, 0xffff_0ff0),
        (RFLAGS, 0x2),
        (RIP, u64::from(eip & 0xffff)),
        (G_PAT, g_pat),
        (RDX, rdx),
        (SEV_FEATURES, sev_features),
        (XCR0, 0x1),
    ] {
        put(&mut p, at, &v.to_le_bytes());
    }
    put(&mut p, MXCSR, &mxcsr.to_le_bytes());
    put(&mut p, X87_FCW, &fcw.to_le_bytes());
    p
}

/// The VMSA pages of a guest: the BSP's, and (with more than one vCPU) the APs'.
pub struct VmsaPages {
    bsp: Box<VmsaPage>,
    ap: Option<Box<VmsaPage>>,
}

impl VmsaPages {
    /// Builds the pages for `vcpus` vCPUs of a guest booting `image`, whose SEV-ES reset block
    /// gives the AP start address. More than one vCPU with AP address 0 is an error.
    pub fn new(
        image: &Ovmf<'_>,
        sev_features: u64,
        vcpu_sig: u32,
        vmm: VmmType,
        vcpus: u32,
    ) -> Result<VmsaPages, MeasureError> {
        let ap_eip = image.sev_es_reset_eip()?;
        let ap = if vcpus > 1 {
            if ap_eip == 0 {
                return Err(MeasureError::NoApResetAddress);
            }
            Some(save_area(ap_eip, sev_features, vcpu_sig, vmm))
        } else {
            None
        };
        Ok(VmsaPages {
            bsp: save_area(BSP_EIP, sev_features, vcpu_sig, vmm),
            ap,
        })
    }

    /// The page of vCPU `index`: the BSP's for 0, the APs' otherwise (the BSP's if there is no
    /// AP page).
    pub fn page(&self, index: u32) -> &VmsaPage {
        match (&self.ap, index) {
            (Some(ap), i) if i > 0 => ap,
            _ => &self.bsp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u64_at(p: &VmsaPage, at: usize) -> u64 {
        u64::from_le_bytes(p[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn qemu_bsp_fields() {
        let p = save_area(BSP_EIP, 0x21, 0x800f12, VmmType::Qemu);
        assert_eq!(
            &p[CS..CS + 16],
            &hex::decode("00f09b00ffff00000000ffff00000000").unwrap()[..]
        );
        assert_eq!(u64_at(&p, RIP), 0xfff0);
        assert_eq!(u64_at(&p, RDX), 0x800f12);
        assert_eq!(u64_at(&p, SEV_FEATURES), 0x21);
        assert_eq!(u64_at(&p, G_PAT), 0x0007040600070406);
        assert_eq!(&p[MXCSR..MXCSR + 4], &0x1f80u32.to_le_bytes());
        assert_eq!(&p[X87_FCW..X87_FCW + 2], &0x37fu16.to_le_bytes());
        assert!(p[0x420..].iter().all(|&b| b == 0));
    }

    #[test]
    fn ec2_and_gce_differences() {
        let bsp = save_area(BSP_EIP, 1, 0x800f12, VmmType::Ec2);
        let ap = save_area(0x80b004, 1, 0x800f12, VmmType::Ec2);
        assert_eq!(bsp[CS + 2], 0x9a);
        assert_eq!(ap[CS + 2], 0x9b);
        assert_eq!(u64_at(&ap, CS + 8), 0x800000);
        assert_eq!(u64_at(&ap, RIP), 0xb004);
        assert_eq!(u64_at(&bsp, RDX), 0x600);
        let gce = save_area(BSP_EIP, 1, 0x800f12, VmmType::Gce);
        assert_eq!(u64_at(&gce, G_PAT), 0x70106);
        assert_eq!(u64_at(&gce, RDX), 0x600);
        assert_eq!(gce[MXCSR], 0);
    }
}
