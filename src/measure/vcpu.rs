//! vCPU models and their CPUID signatures (CPUID Fn0000_0001_EAX), which QEMU puts in RDX of
//! every VMSA. Names follow QEMU's built-in x86 CPU models, as sev-snp-measure lists them.

use super::MeasureError;

/// The CPUID signature of a family, model and stepping (AMD CPUID specification #25481):
/// families above 0xf put 0xf in the base family and the rest in the extended family.
pub const fn cpu_sig(family: u32, model: u32, stepping: u32) -> u32 {
    let (family_low, family_high) = if family > 0xf {
        (0xf, (family - 0xf) & 0xff)
    } else {
        (family, 0)
    };
    (family_high << 20)
        | (((model >> 4) & 0xf) << 16)
        | (family_low << 8)
        | ((model & 0xf) << 4)
        | (stepping & 0xf)
}

const EPYC: u32 = cpu_sig(23, 1, 2);
const ROME: u32 = cpu_sig(23, 49, 0);
const MILAN: u32 = cpu_sig(25, 1, 1);
const GENOA: u32 = cpu_sig(25, 17, 0);
const TURIN: u32 = cpu_sig(26, 0, 0);

/// Known vCPU model names and their signatures (EPYC-v4 = 0x800f12, EPYC-Milan = 0xa00f11,
/// EPYC-Genoa = 0xa10f10).
pub const VCPU_TYPES: &[(&str, u32)] = &[
    ("EPYC", EPYC),
    ("EPYC-v1", EPYC),
    ("EPYC-v2", EPYC),
    ("EPYC-IBPB", EPYC),
    ("EPYC-v3", EPYC),
    ("EPYC-v4", EPYC),
    ("EPYC-Rome", ROME),
    ("EPYC-Rome-v1", ROME),
    ("EPYC-Rome-v2", ROME),
    ("EPYC-Rome-v3", ROME),
    ("EPYC-Milan", MILAN),
    ("EPYC-Milan-v1", MILAN),
    ("EPYC-Milan-v2", MILAN),
    ("EPYC-Genoa", GENOA),
    ("EPYC-Genoa-v1", GENOA),
    ("EPYC-Turin", TURIN),
];

/// The signature of a vCPU model named exactly as in [`VCPU_TYPES`].
pub fn vcpu_sig_by_name(name: &str) -> Result<u32, MeasureError> {
    VCPU_TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, sig)| sig)
        .ok_or_else(|| MeasureError::UnknownVcpuType(name.to_string()))
}

/// The known names, comma-separated, for error messages.
pub(crate) fn known_names() -> String {
    VCPU_TYPES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(vcpu_sig_by_name("EPYC-v4"), Ok(0x800f12));
        assert_eq!(vcpu_sig_by_name("EPYC-Rome"), Ok(0x830f10));
        assert_eq!(vcpu_sig_by_name("EPYC-Milan"), Ok(0xa00f11));
        assert_eq!(vcpu_sig_by_name("EPYC-Genoa"), Ok(0xa10f10));
        assert_eq!(vcpu_sig_by_name("EPYC-Turin"), Ok(0xb00f00));
        assert_eq!(cpu_sig(6, 0x55, 7), 0x50657);
        let e = vcpu_sig_by_name("epyc-v4").unwrap_err();
        assert!(e.to_string().contains("EPYC-Genoa-v1"));
    }
}
