//! VM shapes: the launch parameters besides the firmware that decide an SEV-ES or SEV-SNP
//! measurement (vCPU count and model, VMM, guest features), written as
//! `vcpus=4,type=EPYC-v4,vmm=qemu,features=0x1`.

use std::fmt;
use std::str::FromStr;

use super::{LaunchParams, MeasureError, SevMode, VmmType, DEFAULT_GUEST_FEATURES, MAX_VCPUS};

/// The vCPU model a shape uses when none is given. `fwlog measure` has no default and asks
/// for `--vcpu-type`; a shape needs a complete parameter set, and EPYC-v4 (signature
/// 0x800f12) is the model sev-snp-measure's examples and log-format.md §14.5 use.
pub const DEFAULT_VCPU_TYPE: &str = "EPYC-v4";

/// The vCPU model of a shape: a QEMU model name from [`super::VCPU_TYPES`], or a raw CPUID
/// signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuModel {
    /// A known model name and its signature.
    Named(&'static str, u32),
    /// A CPUID 1 EAX signature given directly.
    Sig(u32),
}

impl VcpuModel {
    /// The model's CPUID signature.
    pub fn sig(self) -> u32 {
        match self {
            VcpuModel::Named(_, sig) | VcpuModel::Sig(sig) => sig,
        }
    }

    /// The model named exactly as in [`super::VCPU_TYPES`].
    pub fn by_name(name: &str) -> Result<VcpuModel, MeasureError> {
        super::VCPU_TYPES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(n, sig)| VcpuModel::Named(n, sig))
            .ok_or_else(|| MeasureError::UnknownVcpuType(name.to_string()))
    }
}

/// How a confidential VM is launched, apart from its firmware and direct-boot files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmShape {
    /// Number of vCPUs (SEV-ES, SEV-SNP).
    pub vcpus: u32,
    /// vCPU model (QEMU puts its signature in every VMSA's RDX; EC2 and GCE ignore it).
    pub vcpu: VcpuModel,
    /// The VMM.
    pub vmm: VmmType,
    /// SEV-SNP guest features (VMSA `SEV_FEATURES`); always includes SNPActive (bit 0).
    pub guest_features: u64,
}

impl Default for VmShape {
    /// `fwlog measure`'s defaults: 1 vCPU, QEMU, guest features 0x1; and the vCPU model
    /// [`DEFAULT_VCPU_TYPE`].
    fn default() -> VmShape {
        VmShape {
            vcpus: 1,
            vcpu: VcpuModel::by_name(DEFAULT_VCPU_TYPE).unwrap_or(VcpuModel::Sig(0x800f12)),
            vmm: VmmType::Qemu,
            guest_features: DEFAULT_GUEST_FEATURES,
        }
    }
}

fn shape_err(msg: impl Into<String>) -> MeasureError {
    MeasureError::VmShape(msg.into())
}

/// Hex with an optional `0x` prefix, 1 to 16 digits.
fn parse_hex(key: &str, s: &str) -> Result<u64, MeasureError> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(shape_err(format!(
            "{key}={s} is not a hex number (e.g. 0x1)"
        )));
    }
    u64::from_str_radix(digits, 16).map_err(|_| shape_err(format!("{key}={s} is not hex")))
}

impl VmShape {
    /// Parses `key=value` pairs separated by commas, each key at most once: `vcpus=N`
    /// (1..=4096), `type=NAME` (a QEMU vCPU model) or `sig=0xHEX` (a CPUID signature),
    /// `vmm=qemu|ec2|gce`, `features=0xHEX` (SEV-SNP guest features, with bit 0 set). Keys
    /// not given keep [`VmShape::default`]'s values.
    pub fn parse(spec: &str) -> Result<VmShape, MeasureError> {
        let mut shape = VmShape::default();
        let mut seen: Vec<&str> = Vec::new();
        if spec.trim().is_empty() {
            return Err(shape_err("empty (give e.g. vcpus=4,type=EPYC-v4)"));
        }
        for item in spec.split(',') {
            let item = item.trim();
            let Some((key, value)) = item.split_once('=') else {
                return Err(shape_err(format!(
                    "{item:?} is not key=value (keys: vcpus, type, sig, vmm, features)"
                )));
            };
            let slot = if key == "sig" { "type" } else { key };
            if seen.contains(&slot) {
                return Err(shape_err(if slot == "type" {
                    "give the vCPU model once, as type= or sig=".to_string()
                } else {
                    format!("{key} given twice")
                }));
            }
            seen.push(slot);
            match key {
                "vcpus" => {
                    let n = crate::parse::canonical_u64(value)
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| (1..=MAX_VCPUS).contains(n))
                        .ok_or_else(|| {
                            shape_err(format!("vcpus={value} is not a number in 1..={MAX_VCPUS}"))
                        })?;
                    shape.vcpus = n;
                }
                "type" => shape.vcpu = VcpuModel::by_name(value)?,
                "sig" => {
                    let sig = u32::try_from(parse_hex(key, value)?)
                        .map_err(|_| shape_err(format!("sig={value} is larger than 32 bits")))?;
                    shape.vcpu = VcpuModel::Sig(sig);
                }
                "vmm" => {
                    shape.vmm = VmmType::from_name(value).ok_or_else(|| {
                        shape_err(format!("vmm={value}: expected qemu, ec2 or gce"))
                    })?;
                }
                "features" => {
                    let f = parse_hex(key, value)?;
                    if f & 1 == 0 {
                        return Err(MeasureError::GuestFeatures(f));
                    }
                    shape.guest_features = f;
                }
                other => {
                    return Err(shape_err(format!(
                        "unknown key {other:?} (keys: vcpus, type, sig, vmm, features)"
                    )))
                }
            }
        }
        Ok(shape)
    }

    /// Launch parameters for `mode` and `image` in this shape (no direct boot, no precomputed
    /// OVMF hash).
    pub fn params<'a>(&self, mode: SevMode, image: &'a [u8]) -> LaunchParams<'a> {
        LaunchParams {
            vcpus: self.vcpus,
            vcpu_sig: Some(self.vcpu.sig()),
            guest_features: self.guest_features,
            vmm: self.vmm,
            ..LaunchParams::new(mode, image)
        }
    }
}

impl FromStr for VmShape {
    type Err = MeasureError;

    fn from_str(s: &str) -> Result<VmShape, MeasureError> {
        VmShape::parse(s)
    }
}

impl fmt::Display for VmShape {
    /// Every key, in the order `vcpus`, `type` or `sig`, `vmm`, `features`; parses back to
    /// the same shape.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vcpus={},", self.vcpus)?;
        match self.vcpu {
            VcpuModel::Named(name, _) => write!(f, "type={name},")?,
            VcpuModel::Sig(sig) => write!(f, "sig={sig:#x},")?,
        }
        write!(
            f,
            "vmm={},features={:#x}",
            self.vmm.name(),
            self.guest_features
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let d = VmShape::default();
        assert_eq!(d.to_string(), "vcpus=1,type=EPYC-v4,vmm=qemu,features=0x1");
        assert_eq!(d.vcpu.sig(), 0x800f12);
        assert_eq!(VmShape::parse("vcpus=1").unwrap(), d);
        let s = VmShape::parse("vcpus=4, sig=0xA00F11 ,vmm=ec2,features=0x21").unwrap();
        assert_eq!(
            (s.vcpus, s.vcpu, s.vmm, s.guest_features),
            (4, VcpuModel::Sig(0xa00f11), VmmType::Ec2, 0x21)
        );
        assert_eq!(s.to_string(), "vcpus=4,sig=0xa00f11,vmm=ec2,features=0x21");
        for text in [
            "vcpus=1,type=EPYC-v4,vmm=qemu,features=0x1",
            "vcpus=4096,type=EPYC-Genoa,vmm=gce,features=0x21",
            "vcpus=2,sig=0x800f12,vmm=qemu,features=0xffffffffffffffff",
        ] {
            let s: VmShape = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
        assert_eq!(
            VmShape::parse("type=EPYC-Milan").unwrap().vcpu,
            VcpuModel::Named("EPYC-Milan", 0xa00f11)
        );
        assert_eq!(VmShape::parse("features=21").unwrap().guest_features, 0x21);
    }

    #[test]
    fn parse_rejects() {
        for (spec, needle) in [
            ("", "empty"),
            (" ", "empty"),
            ("vcpus=1,", "not key=value"),
            ("vcpus", "not key=value"),
            ("vcpus=0", "1..=4096"),
            ("vcpus=4097", "1..=4096"),
            ("vcpus=01", "1..=4096"),
            ("vcpus=+1", "1..=4096"),
            ("vcpus=1,vcpus=2", "twice"),
            ("type=EPYC-v4,sig=0x1", "once"),
            ("sig=0x1,sig=0x2", "once"),
            ("type=epyc-v4", "unknown vCPU type"),
            ("sig=0x100000000", "32 bits"),
            ("sig=zz", "hex"),
            ("vmm=kvm", "qemu, ec2 or gce"),
            ("features=0x20", "SNPActive"),
            ("features=", "hex"),
            ("cpus=1", "unknown key"),
            ("vcpus = 1", "unknown key"),
        ] {
            let e = VmShape::parse(spec).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec:?}: {e}");
        }
    }

    #[test]
    fn params() {
        let s = VmShape::parse("vcpus=3,type=EPYC-Rome,vmm=gce,features=0x21").unwrap();
        let p = s.params(SevMode::SevEs, &[]);
        assert_eq!(p.mode, SevMode::SevEs);
        assert_eq!(
            (p.vcpus, p.vcpu_sig, p.vmm, p.guest_features),
            (3, Some(0x830f10), VmmType::Gce, 0x21)
        );
        assert!(p.kernel.is_none() && p.snp_ovmf_hash.is_none());
    }
}
