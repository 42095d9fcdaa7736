//! The seed of a run's spreads, and the small generator drawn from it: the same seed always
//! gives the same spread (`--seed` reproduces a run).

/// A seed for a run: the clock's nanoseconds mixed with the process id.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos());
    let mut r = Rng((nanos as u64) ^ (u64::from(std::process::id()) << 32));
    r.next_u64()
}

/// splitmix64: small, seedable, good enough to scatter addresses.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let n = u64::try_from(items.len()).unwrap_or(1).max(1);
        items[usize::try_from(self.next_u64() % n).unwrap_or(0)]
    }
}
