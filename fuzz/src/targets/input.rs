//! Structure-aware decoding of fuzz input.
//!
//! The targets read a few typed fields (sizes, indices, selectors) from the front of the input
//! with [`Input`] and hand the rest to a parser. This plays the role `arbitrary::Unstructured`
//! would, without the dependency: `tests/fuzz_regressions.rs` compiles these files inside the
//! main crate, which does not depend on `arbitrary`, and a saved input must decode identically
//! there. Reads past the end yield zeros, so every input decodes.

/// A cursor over the fuzz input.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Up to `n` bytes (fewer when the input runs out).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// Exactly `N` bytes, zero-padded when the input runs out.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let b = self.bytes(N);
        out[..b.len()].copy_from_slice(b);
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// A value in `0..n` (`n > 0`) from two bytes: small ranges stay cheap to hit.
    pub fn below(&mut self, n: u64) -> u64 {
        u64::from(self.u16()) % n
    }

    /// Everything not read yet.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}
