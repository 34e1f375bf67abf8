//! Mastodon-style time-sortable 64-bit ids: `(unix_ms << 16) | 16 low bits`.
//!
//! The low bits come from a per-process counter that starts at a random value, so ids made in
//! the same millisecond by one process never collide and several processes rarely do (the
//! database's primary key rejects the rare collision and the caller retries). On the wire ids
//! are decimal strings.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::time::{Millis, now_ms};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
#[serde(transparent)]
pub struct Id(pub i64);

static LAST: AtomicU64 = AtomicU64::new(0);

impl Id {
    /// A new id for "now". Strictly increasing within a process.
    pub fn generate() -> Id {
        let floor = (now_ms().max(0) as u64) << 16;
        let mut prev = LAST.load(Ordering::Relaxed);
        loop {
            let next = if prev >= floor { prev + 1 } else { floor | seed() };
            match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Id(next as i64),
                Err(p) => prev = p,
            }
        }
    }

    /// An id for a past moment (remote statuses get ids from their `published` time). Within the
    /// last second it is the same as [`Id::generate`].
    pub fn generate_at(ms: Millis) -> Id {
        if ms >= now_ms() - 1000 {
            return Self::generate();
        }
        Id((((ms.max(0) as u64) << 16) | (rand_bits() & 0xffff)) as i64)
    }

    /// The smallest id that could have been made at `ms`: for time-based paging bounds.
    pub fn lowest_at(ms: Millis) -> Id {
        Id(ms.max(0) << 16)
    }

    pub fn millis(self) -> Millis {
        self.0 >> 16
    }

    /// Parses the wire form. Anything that is not a positive decimal integer is `None`.
    pub fn parse(s: &str) -> Option<Id> {
        s.parse::<i64>().ok().filter(|v| *v > 0).map(Id)
    }
}

fn seed() -> u64 {
    // Spread the low bits so separate processes start far apart; 12 random bits leave room for
    // 4096 ids per millisecond per process before the counter spills into the next millisecond.
    (rand_bits() & 0x0fff) << 4
}

fn rand_bits() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms() as u64);
    h.finish()
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_carry_their_time() {
        let t = now_ms();
        let mut last = Id(0);
        for _ in 0..10_000 {
            let id = Id::generate();
            assert!(id > last, "{id} after {last}");
            last = id;
        }
        assert!(last.millis() >= t);
    }

    #[test]
    fn parse_rejects_junk() {
        assert_eq!(Id::parse("123"), Some(Id(123)));
        assert_eq!(Id::parse("-1"), None);
        assert_eq!(Id::parse("abc"), None);
    }
}
