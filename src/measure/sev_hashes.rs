//! The SEV kernel-hashes table QEMU writes into the firmware's reserved area when it boots a
//! kernel directly (`-kernel`, `-initrd`, `-append`), so that the launch measurement covers
//! them (QEMU target/i386/sev.c, `SevHashTable`).
//!
//! Layout (all GUIDs in image byte order, lengths u16le): header GUID 9438d606-…, length 168;
//! then three entries of GUID, length 50 and SHA-256: command line (the `-append` string plus
//! its terminating NUL; a lone NUL when absent), initrd (of an empty input when absent),
//! kernel. Zero-padded to 176 bytes (a multiple of 16).

use sha2::{Digest, Sha256};

use super::ovmf::Guid;
use super::{MeasureError, PAGE_SIZE};

/// Length of the table without padding (the value of its length field).
pub const SEV_HASH_TABLE_LEN: usize = 16 + 2 + 3 * ENTRY_LEN;
/// Length of the table as measured: padded with zeros to a multiple of 16.
pub const SEV_HASH_TABLE_PADDED_LEN: usize = (SEV_HASH_TABLE_LEN + 15) & !15;
const ENTRY_LEN: usize = 16 + 2 + 32;

const HEADER_GUID: Guid = Guid::new(
    0x9438d606,
    0x4f22,
    0x4cc9,
    [0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21],
);
const CMDLINE_GUID: Guid = Guid::new(
    0x97d02dd8,
    0xbd20,
    0x4c94,
    [0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a],
);
const INITRD_GUID: Guid = Guid::new(
    0x44baf731,
    0x3a2f,
    0x4bd7,
    [0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d],
);
const KERNEL_GUID: Guid = Guid::new(
    0x4de79437,
    0xabd2,
    0x427f,
    [0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b],
);

/// The SHA-256 digests of a direct-boot kernel, initrd and command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SevHashes {
    /// SHA-256 of the kernel image.
    pub kernel: [u8; 32],
    /// SHA-256 of the initrd (of the empty string when there is none).
    pub initrd: [u8; 32],
    /// SHA-256 of the command line followed by one NUL byte.
    pub cmdline: [u8; 32],
}

impl SevHashes {
    /// Hashes a kernel, an optional initrd and an optional command line as QEMU does. An empty
    /// command line is the same as none; one containing a NUL byte is refused.
    pub fn new(
        kernel: &[u8],
        initrd: Option<&[u8]>,
        append: Option<&str>,
    ) -> Result<SevHashes, MeasureError> {
        let append = append.unwrap_or("");
        if append.contains('\0') {
            return Err(MeasureError::AppendHasNul);
        }
        let mut cmdline = Sha256::new();
        cmdline.update(append.as_bytes());
        cmdline.update([0u8]);
        Ok(SevHashes {
            kernel: Sha256::digest(kernel).into(),
            initrd: Sha256::digest(initrd.unwrap_or_default()).into(),
            cmdline: cmdline.finalize().into(),
        })
    }

    /// The padded table, as SEV and SEV-ES measure it after the firmware.
    pub fn table(&self) -> [u8; SEV_HASH_TABLE_PADDED_LEN] {
        let mut t = [0u8; SEV_HASH_TABLE_PADDED_LEN];
        let mut w = Writer { buf: &mut t, at: 0 };
        w.put(HEADER_GUID.as_bytes());
        w.put(&(SEV_HASH_TABLE_LEN as u16).to_le_bytes());
        for (guid, hash) in [
            (CMDLINE_GUID, &self.cmdline),
            (INITRD_GUID, &self.initrd),
            (KERNEL_GUID, &self.kernel),
        ] {
            w.put(guid.as_bytes());
            w.put(&(ENTRY_LEN as u16).to_le_bytes());
            w.put(hash);
        }
        t
    }

    /// The 4 KiB page SEV-SNP measures: zeros with the padded table at `offset`.
    pub fn page(&self, offset: usize) -> Result<Vec<u8>, MeasureError> {
        let end = offset
            .checked_add(SEV_HASH_TABLE_PADDED_LEN)
            .filter(|&e| e <= PAGE_SIZE)
            .ok_or(MeasureError::KernelHashesUnsupported(
                "places its SEV hashes table across a page boundary",
            ))?;
        let mut page = vec![0u8; PAGE_SIZE];
        if let Some(dst) = page.get_mut(offset..end) {
            dst.copy_from_slice(&self.table());
        }
        Ok(page)
    }
}

/// Appends fixed-size fields to a buffer whose size the caller computed.
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_layout() {
        assert_eq!(SEV_HASH_TABLE_LEN, 168);
        assert_eq!(SEV_HASH_TABLE_PADDED_LEN, 176);
        let h = SevHashes::new(b"", None, None).unwrap();
        let t = h.table();
        assert_eq!(
            hex::encode(&t[..18]),
            "06d63894224fc94cb479a793d411fd21a800"
        );
        assert_eq!(&t[34..36], &[50, 0]);
        // sha256("\0") for the absent command line, sha256("") for the rest.
        assert_eq!(
            hex::encode(&t[36..68]),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(t[136..168], h.kernel);
        assert_eq!(t[168..], [0u8; 8]);
        assert_eq!(h, SevHashes::new(b"", Some(b""), Some("")).unwrap());
    }

    #[test]
    fn refuses_nul_and_page_overflow() {
        assert_eq!(
            SevHashes::new(b"k", None, Some("a\0b")),
            Err(MeasureError::AppendHasNul)
        );
        let h = SevHashes::new(b"k", None, None).unwrap();
        assert_eq!(h.page(0xc00).unwrap()[0xc00..0xcb0], h.table());
        assert!(h.page(4096 - 175).is_err());
        assert!(h.page(usize::MAX).is_err());
    }
}
