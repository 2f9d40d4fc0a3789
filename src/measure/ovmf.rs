//! OVMF firmware images: the GUIDed footer table at the image's end and the SEV metadata
//! (`ASEV`) it points to, as edk2's OvmfPkg/ResetVector lays them out.
//!
//! The footer table ends 32 bytes before the end of the image. Read backwards from there, it is
//! a footer entry (u16le size of the whole table including this entry, then the footer GUID),
//! preceded by entries each of which ends in its own u16le size (data + 18) and GUID, the data
//! in front of them. The SEV metadata entry holds a u32le offset from the image's end to the
//! `ASEV` header: signature `ASEV`, u32le size, u32le version (1), u32le section count,
//! followed by that many 12-byte sections (u32le GPA, u32le size, u32le kind).

use std::fmt;

use super::{check_image_size, MeasureError, PAGE_SIZE};

/// Largest number of SEV metadata sections accepted (edk2 declares 5 to 7).
pub const MAX_METADATA_SECTIONS: u32 = 64;

/// Cap on the total size the SEV metadata sections may declare (64 MiB: 16,384 pages).
pub const MAX_METADATA_BYTES: u64 = 64 << 20;

/// An EFI GUID, held as its 16 bytes in image order (first three fields little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Guid([u8; 16]);

impl Guid {
    /// The GUID `d1-d2-d3-d4[0..2]-d4[2..8]` in its textual form's field order.
    pub const fn new(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// The GUID whose image (little-endian mixed) encoding is `bytes`.
    pub const fn from_bytes(bytes: [u8; 16]) -> Guid {
        Guid(bytes)
    }

    /// The 16 bytes as they appear in a firmware image.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-",
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9]
        )?;
        for x in &b[10..] {
            write!(f, "{x:02x}")?;
        }
        Ok(())
    }
}

/// The footer entry that closes the OVMF table.
pub const OVMF_TABLE_FOOTER_GUID: Guid = Guid::new(
    0x96b582de,
    0x1fb2,
    0x45f7,
    [0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d],
);
/// Entry holding the GPA (u32le) and size (u32le) of the reserved SEV kernel-hashes table.
pub const SEV_HASH_TABLE_RV_GUID: Guid = Guid::new(
    0x7255371f,
    0x3a3b,
    0x4b04,
    [0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54],
);
/// Entry holding the SEV-ES AP reset address (u32le): CS base is its upper 16 bits, IP the
/// lower 16.
pub const SEV_ES_RESET_BLOCK_GUID: Guid = Guid::new(
    0x00f771de,
    0x1a7e,
    0x4fcb,
    [0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e],
);
/// Entry holding the offset (u32le) from the image's end to the `ASEV` SEV metadata.
pub const OVMF_SEV_METADATA_GUID: Guid = Guid::new(
    0xdc886566,
    0x984a,
    0x4798,
    [0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc],
);

/// Length of a footer-table entry header: u16le size and GUID.
const ENTRY_HEADER_LEN: usize = 18;
/// The footer table ends this many bytes before the end of the image.
const FOOTER_END_GAP: usize = 32;
/// Length of the `ASEV` header.
const METADATA_HEADER_LEN: usize = 16;
/// Length of one SEV metadata section descriptor.
const METADATA_SECTION_LEN: usize = 12;
/// Length of the padded kernel-hashes table the reserved area must hold.
const HASH_TABLE_MIN: u32 = super::SEV_HASH_TABLE_PADDED_LEN as u32;

/// Kind of an SEV metadata section (edk2 OvmfSevMetadata.asm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// 1: memory the guest pre-validates; measured as ZERO pages (UNMEASURED under GCE).
    SnpSecMem,
    /// 2: the SNP secrets page; measured as a SECRETS page.
    SnpSecrets,
    /// 3: the CPUID page; measured as a CPUID page (under EC2, after all other sections).
    Cpuid,
    /// 4: the SVSM calling area; measured as ZERO pages.
    SvsmCaa,
    /// 0x10: the page holding the kernel-hashes table; NORMAL with the table when direct
    /// boot is measured, ZERO pages otherwise.
    SnpKernelHashes,
}

impl SectionKind {
    /// The kind for a descriptor's type number, if known.
    pub fn from_u32(kind: u32) -> Option<SectionKind> {
        match kind {
            1 => Some(SectionKind::SnpSecMem),
            2 => Some(SectionKind::SnpSecrets),
            3 => Some(SectionKind::Cpuid),
            4 => Some(SectionKind::SvsmCaa),
            0x10 => Some(SectionKind::SnpKernelHashes),
            _ => None,
        }
    }
}

/// One SEV metadata section: a page-aligned guest-physical range and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataSection {
    /// Guest-physical start address (page-aligned).
    pub gpa: u32,
    /// Size in bytes (a non-zero multiple of 4096).
    pub size: u32,
    /// What the section is.
    pub kind: SectionKind,
}

/// One footer-table entry: its GUID and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableEntry<'a> {
    /// The entry's GUID.
    pub guid: Guid,
    /// The entry's data (without size and GUID).
    pub data: &'a [u8],
}

/// A parsed OVMF image: the bytes, the footer table (if the image has one) and the SEV
/// metadata (if the table points to one).
#[derive(Clone, Debug)]
pub struct Ovmf<'a> {
    data: &'a [u8],
    table: Option<Vec<TableEntry<'a>>>,
    metadata: Option<Vec<MetadataSection>>,
}

/// The guest-physical address where QEMU maps an image of `len` bytes: it ends at 4 GiB.
pub(crate) fn image_gpa(len: usize) -> u64 {
    (1u64 << 32).saturating_sub(len as u64)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn guid_at(b: &[u8], at: usize) -> Option<Guid> {
    let s = b.get(at..at.checked_add(16)?)?;
    let mut g = [0u8; 16];
    g.copy_from_slice(s);
    Some(Guid(g))
}

fn table_err(msg: impl Into<String>) -> MeasureError {
    MeasureError::MalformedFooterTable(msg.into())
}

fn meta_err(msg: impl Into<String>) -> MeasureError {
    MeasureError::MalformedSevMetadata(msg.into())
}

impl<'a> Ovmf<'a> {
    /// Parses an image: checks its size (a non-zero multiple of 4096, at most
    /// [`super::MAX_IMAGE_SIZE`]), then the footer table and SEV metadata when present. An image
    /// without a footer table parses (plain SEV measures any image); a present but malformed
    /// table or metadata is an error.
    pub fn parse(data: &'a [u8]) -> Result<Ovmf<'a>, MeasureError> {
        check_image_size(data)?;
        let table = parse_footer_table(data)?;
        let mut image = Ovmf {
            data,
            table,
            metadata: None,
        };
        if let Some(entry) = image.table_entry(&OVMF_SEV_METADATA_GUID) {
            let offset = u32_at(entry, 0).ok_or_else(|| {
                table_err(format!("SEV metadata entry has {} data bytes", entry.len()))
            })?;
            image.metadata = Some(parse_metadata(data, offset)?);
        }
        Ok(image)
    }

    /// The image's bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Guest-physical address of the image's first byte: 4 GiB minus its size.
    pub fn gpa(&self) -> u64 {
        image_gpa(self.data.len())
    }

    /// The footer-table entries, from the footer backwards; `None` without a footer table.
    pub fn footer_table(&self) -> Option<&[TableEntry<'a>]> {
        self.table.as_deref()
    }

    /// The data of the footer-table entry with this GUID.
    pub fn table_entry(&self, guid: &Guid) -> Option<&'a [u8]> {
        self.table
            .as_ref()?
            .iter()
            .find(|e| e.guid == *guid)
            .map(|e| e.data)
    }

    /// The SEV metadata sections, in image order; `None` when the image has none.
    pub fn metadata(&self) -> Option<&[MetadataSection]> {
        self.metadata.as_deref()
    }

    /// Whether the SEV metadata declares a section of this kind.
    pub fn has_section(&self, kind: SectionKind) -> bool {
        self.metadata
            .as_ref()
            .is_some_and(|m| m.iter().any(|s| s.kind == kind))
    }

    /// The SEV-ES AP reset address from the SEV-ES reset block. SEV-ES and SEV-SNP need it.
    pub fn sev_es_reset_eip(&self) -> Result<u32, MeasureError> {
        let entry = self.required_entry("SEV-ES reset block", &SEV_ES_RESET_BLOCK_GUID)?;
        u32_at(entry, 0).ok_or_else(|| {
            table_err(format!(
                "SEV-ES reset block entry has {} data bytes, expected at least 4",
                entry.len()
            ))
        })
    }

    /// GPA of the reserved kernel-hashes table, where QEMU writes [`super::SevHashes`]. An
    /// image without the entry, or with GPA 0, cannot measure direct boot (an error).
    pub fn sev_hashes_table(&self) -> Result<u32, MeasureError> {
        let Some(entry) = self.table_entry(&SEV_HASH_TABLE_RV_GUID) else {
            return Err(MeasureError::KernelHashesUnsupported(
                "has no SEV hashes table entry in its OVMF footer table",
            ));
        };
        let gpa = u32_at(entry, 0).ok_or_else(|| {
            table_err(format!(
                "SEV hashes table entry has {} data bytes, expected 8",
                entry.len()
            ))
        })?;
        if gpa == 0 {
            return Err(MeasureError::KernelHashesUnsupported(
                "reserves no SEV hashes table (its GPA is 0)",
            ));
        }
        if let Some(size) = u32_at(entry, 4) {
            if size < HASH_TABLE_MIN {
                return Err(table_err(format!(
                    "SEV hashes table area is {size} bytes, smaller than the {HASH_TABLE_MIN}-byte table"
                )));
            }
        }
        Ok(gpa)
    }

    fn required_entry(&self, name: &'static str, guid: &Guid) -> Result<&'a [u8], MeasureError> {
        if self.table.is_none() {
            return Err(MeasureError::NoFooterTable);
        }
        self.table_entry(guid)
            .ok_or(MeasureError::MissingTableEntry { name, guid: *guid })
    }
}

/// Parses the footer table; `Ok(None)` when the footer GUID is not where it belongs.
fn parse_footer_table(data: &[u8]) -> Result<Option<Vec<TableEntry<'_>>>, MeasureError> {
    let Some(footer_at) = data.len().checked_sub(FOOTER_END_GAP + ENTRY_HEADER_LEN) else {
        return Ok(None);
    };
    if guid_at(data, footer_at + 2) != Some(OVMF_TABLE_FOOTER_GUID) {
        return Ok(None);
    }
    let total = u16_at(data, footer_at).map_or(0, usize::from);
    let table_len = total
        .checked_sub(ENTRY_HEADER_LEN)
        .ok_or_else(|| table_err(format!("footer entry size {total} is below 18")))?;
    let start = footer_at
        .checked_sub(table_len)
        .ok_or_else(|| table_err(format!("table size {total} runs past the image's start")))?;
    let mut rest = data.get(start..footer_at).unwrap_or_default();
    let mut entries: Vec<TableEntry<'_>> = Vec::new();
    while !rest.is_empty() {
        let Some(hdr) = rest.len().checked_sub(ENTRY_HEADER_LEN) else {
            return Err(table_err(format!(
                "{} stray bytes at the table's start",
                rest.len()
            )));
        };
        let size = u16_at(rest, hdr).map_or(0, usize::from);
        let guid = guid_at(rest, hdr + 2).unwrap_or(Guid([0; 16]));
        if size < ENTRY_HEADER_LEN || size > rest.len() {
            return Err(table_err(format!(
                "entry {guid} has size {size}, outside 18..={}",
                rest.len()
            )));
        }
        if entries.iter().any(|e| e.guid == guid) {
            return Err(table_err(format!("entry {guid} appears twice")));
        }
        let begin = rest.len() - size;
        entries.push(TableEntry {
            guid,
            data: rest.get(begin..hdr).unwrap_or_default(),
        });
        rest = rest.get(..begin).unwrap_or_default();
    }
    Ok(Some(entries))
}

/// Parses the `ASEV` metadata found `offset` bytes before the image's end.
fn parse_metadata(data: &[u8], offset: u32) -> Result<Vec<MetadataSection>, MeasureError> {
    let start = usize::try_from(offset)
        .ok()
        .filter(|&o| o >= METADATA_HEADER_LEN)
        .and_then(|o| data.len().checked_sub(o))
        .ok_or_else(|| {
            meta_err(format!(
                "offset {offset:#x} from the image's end is out of range"
            ))
        })?;
    if data.get(start..start + 4) != Some(b"ASEV".as_slice()) {
        return Err(meta_err("signature is not ASEV"));
    }
    let field = |at: usize| u32_at(data, start + at).unwrap_or(0);
    let (size, version, count) = (field(4), field(8), field(12));
    if version != 1 {
        return Err(meta_err(format!("version {version}, expected 1")));
    }
    if count > MAX_METADATA_SECTIONS {
        return Err(meta_err(format!(
            "{count} sections, more than {MAX_METADATA_SECTIONS}"
        )));
    }
    let expected = METADATA_HEADER_LEN + count as usize * METADATA_SECTION_LEN;
    if size as usize != expected {
        return Err(meta_err(format!(
            "size {size} does not match {count} sections ({expected} bytes)"
        )));
    }
    if size > offset {
        return Err(meta_err(format!("{size} bytes run past the image's end")));
    }
    let mut sections = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let at = start + METADATA_HEADER_LEN + i * METADATA_SECTION_LEN;
        let (gpa, size, kind) = (
            u32_at(data, at).unwrap_or(0),
            u32_at(data, at + 4).unwrap_or(0),
            u32_at(data, at + 8).unwrap_or(0),
        );
        let kind = SectionKind::from_u32(kind)
            .ok_or_else(|| meta_err(format!("section {i} has unknown type {kind:#x}")))?;
        let page = PAGE_SIZE as u64;
        let end = u64::from(gpa) + u64::from(size);
        if u64::from(gpa) % page != 0 || size == 0 || u64::from(size) % page != 0 || end > 1 << 32 {
            return Err(meta_err(format!(
                "section {i} ({gpa:#x}, {size:#x} bytes) is not whole pages below 4 GiB"
            )));
        }
        if matches!(kind, SectionKind::SnpSecrets | SectionKind::Cpuid)
            && size as usize != PAGE_SIZE
        {
            return Err(meta_err(format!(
                "section {i} ({kind:?}) is {size:#x} bytes, expected one page"
            )));
        }
        sections.push(MetadataSection { gpa, size, kind });
    }
    // Each declared page costs one SHA-384 record in the SNP chain: bound the work an image can
    // ask for (real OVMF declares well under a megabyte).
    let total: u64 = sections.iter().map(|s| u64::from(s.size)).sum();
    if total > MAX_METADATA_BYTES {
        return Err(meta_err(format!(
            "sections declare {total} bytes, more than {MAX_METADATA_BYTES}"
        )));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-page image with a footer table holding `entries` (GUID, data), the last one next
    /// to the footer, and `extra` placed at the page's start.
    fn image(entries: &[(Guid, Vec<u8>)], extra: &[u8]) -> Vec<u8> {
        let mut table = Vec::new();
        for (guid, d) in entries {
            table.extend_from_slice(d);
            table.extend_from_slice(&((d.len() + 18) as u16).to_le_bytes());
            table.extend_from_slice(guid.as_bytes());
        }
        table.extend_from_slice(&((table.len() + 18) as u16).to_le_bytes());
        table.extend_from_slice(OVMF_TABLE_FOOTER_GUID.as_bytes());
        let mut img = vec![0u8; PAGE_SIZE];
        let end = PAGE_SIZE - FOOTER_END_GAP;
        img[end - table.len()..end].copy_from_slice(&table);
        img[..extra.len()].copy_from_slice(extra);
        img
    }

    fn asev(sections: &[(u32, u32, u32)]) -> Vec<u8> {
        let mut m = b"ASEV".to_vec();
        m.extend_from_slice(&((16 + 12 * sections.len()) as u32).to_le_bytes());
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&(sections.len() as u32).to_le_bytes());
        for (g, s, k) in sections {
            for v in [g, s, k] {
                m.extend_from_slice(&v.to_le_bytes());
            }
        }
        m
    }

    /// An image whose metadata (at the page's start, offset 4096 from the end) is `meta`.
    fn with_meta(meta: &[u8]) -> Vec<u8> {
        let e = vec![(OVMF_SEV_METADATA_GUID, 4096u32.to_le_bytes().to_vec())];
        image(&e, meta)
    }

    #[test]
    fn guid_text_form() {
        assert_eq!(
            OVMF_TABLE_FOOTER_GUID.to_string(),
            "96b582de-1fb2-45f7-baea-a366c55a082d"
        );
        assert_eq!(
            SEV_ES_RESET_BLOCK_GUID.as_bytes()[..4],
            [0xde, 0x71, 0xf7, 0x00]
        );
    }

    #[test]
    fn parses_entries_and_metadata() {
        let img = with_meta(&asev(&[(0x800000, 0x9000, 1), (0x80d000, 0x1000, 2)]));
        let o = Ovmf::parse(&img).unwrap();
        assert_eq!(o.footer_table().unwrap().len(), 1);
        assert_eq!(o.metadata().unwrap().len(), 2);
        assert_eq!(o.metadata().unwrap()[1].kind, SectionKind::SnpSecrets);
        assert_eq!(o.gpa(), 0xffff_f000);
        assert!(matches!(
            o.sev_es_reset_eip(),
            Err(MeasureError::MissingTableEntry { .. })
        ));
        assert!(matches!(
            o.sev_hashes_table(),
            Err(MeasureError::KernelHashesUnsupported(_))
        ));
    }

    #[test]
    fn no_footer_is_not_an_error_until_needed() {
        let mut img = image(&[], &[]);
        img[PAGE_SIZE - 48] ^= 1; // bad footer GUID
        let o = Ovmf::parse(&img).unwrap();
        assert!(o.footer_table().is_none() && o.metadata().is_none());
        assert_eq!(o.sev_es_reset_eip(), Err(MeasureError::NoFooterTable));
    }

    #[test]
    fn image_sizes() {
        for len in [0, 100, 4095, 4097] {
            assert_eq!(
                Ovmf::parse(&vec![0; len]).unwrap_err(),
                MeasureError::ImageSize { len }
            );
        }
    }

    #[test]
    fn truncated_or_bad_footer_table() {
        let reset = (SEV_ES_RESET_BLOCK_GUID, vec![4, 0xb0, 0x80, 0]);
        let good = image(std::slice::from_ref(&reset), &[]);
        assert_eq!(Ovmf::parse(&good).unwrap().sev_es_reset_eip(), Ok(0x80b004));
        let footer_at = PAGE_SIZE - 50;
        // Footer size below the header length.
        let mut img = good.clone();
        img[footer_at..footer_at + 2].copy_from_slice(&17u16.to_le_bytes());
        assert!(matches!(
            Ovmf::parse(&img),
            Err(MeasureError::MalformedFooterTable(_))
        ));
        // Footer size running past the image's start.
        img[footer_at..footer_at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            Ovmf::parse(&img),
            Err(MeasureError::MalformedFooterTable(_))
        ));
        // Footer size one byte short: the entry no longer fits (stray bytes).
        img[footer_at..footer_at + 2].copy_from_slice(&(18 + 22 - 1u16).to_le_bytes());
        assert!(matches!(
            Ovmf::parse(&img),
            Err(MeasureError::MalformedFooterTable(_))
        ));
        // Entry size larger than what precedes it in the table.
        let mut img = good.clone();
        img[footer_at - 18..footer_at - 16].copy_from_slice(&23u16.to_le_bytes());
        assert!(matches!(
            Ovmf::parse(&img),
            Err(MeasureError::MalformedFooterTable(_))
        ));
        // Entry size below the header length.
        img[footer_at - 18..footer_at - 16].copy_from_slice(&3u16.to_le_bytes());
        assert!(matches!(
            Ovmf::parse(&img),
            Err(MeasureError::MalformedFooterTable(_))
        ));
        // Duplicate entry.
        let dup = image(&[reset.clone(), reset], &[]);
        assert!(matches!(
            Ovmf::parse(&dup),
            Err(MeasureError::MalformedFooterTable(_))
        ));
        // Too-short reset block data.
        let short = image(&[(SEV_ES_RESET_BLOCK_GUID, vec![1, 2])], &[]);
        assert!(matches!(
            Ovmf::parse(&short).unwrap().sev_es_reset_eip(),
            Err(MeasureError::MalformedFooterTable(_))
        ));
    }

    #[test]
    fn bad_metadata() {
        let bad = |meta: Vec<u8>| match Ovmf::parse(&with_meta(&meta)) {
            Err(MeasureError::MalformedSevMetadata(m)) => m,
            other => panic!("{other:?}"),
        };
        let mut m = asev(&[(0x800000, 0x1000, 1)]);
        m[0] = b'B';
        assert!(bad(m).contains("ASEV"));
        let mut m = asev(&[(0x800000, 0x1000, 1)]);
        m[8] = 2;
        assert!(bad(m).contains("version"));
        let mut m = asev(&[(0x800000, 0x1000, 1)]);
        m[4] += 1;
        assert!(bad(m).contains("size"));
        let mut m = asev(&[]);
        m[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(bad(m).contains("sections"));
        assert!(bad(asev(&[(0x800000, 0x1000, 7)])).contains("unknown type"));
        assert!(bad(asev(&[(0x800800, 0x1000, 1)])).contains("whole pages"));
        assert!(bad(asev(&[(0x800000, 0, 1)])).contains("whole pages"));
        assert!(bad(asev(&[(0xffff_f000, 0x2000, 1)])).contains("whole pages"));
        assert!(bad(asev(&[(0x800000, 0x2000, 3)])).contains("one page"));
        // Offsets outside the image, or too small for the header.
        for off in [0u32, 15, 4097, u32::MAX] {
            let e = vec![(OVMF_SEV_METADATA_GUID, off.to_le_bytes().to_vec())];
            assert!(matches!(
                Ovmf::parse(&image(&e, &[])),
                Err(MeasureError::MalformedSevMetadata(_))
            ));
        }
        // Metadata running past the image's end: header 16 bytes before the end.
        let e = vec![(OVMF_SEV_METADATA_GUID, 16u32.to_le_bytes().to_vec())];
        let mut img = image(&e, &[]);
        let meta = asev(&[(0x800000, 0x1000, 1)]);
        img[PAGE_SIZE - 16..].copy_from_slice(&meta[..16]);
        assert!(matches!(
            Ovmf::parse(&img),
            Err(MeasureError::MalformedFooterTable(_) | MeasureError::MalformedSevMetadata(_))
        ));
        // A metadata entry too short to hold an offset.
        let e = vec![(OVMF_SEV_METADATA_GUID, vec![1])];
        assert!(matches!(
            Ovmf::parse(&image(&e, &[])),
            Err(MeasureError::MalformedFooterTable(_))
        ));
    }

    #[test]
    fn hashes_table_entry() {
        let t = |d: Vec<u8>| {
            let img = image(&[(SEV_HASH_TABLE_RV_GUID, d)], &[]);
            Ovmf::parse(&img).unwrap().sev_hashes_table()
        };
        let mut d = 0x810c00u32.to_le_bytes().to_vec();
        d.extend_from_slice(&0x400u32.to_le_bytes());
        assert_eq!(t(d), Ok(0x810c00));
        assert!(matches!(
            t(vec![0; 8]),
            Err(MeasureError::KernelHashesUnsupported(_))
        ));
        let mut d = 0x810c00u32.to_le_bytes().to_vec();
        d.extend_from_slice(&100u32.to_le_bytes());
        assert!(matches!(t(d), Err(MeasureError::MalformedFooterTable(_))));
    }
}
