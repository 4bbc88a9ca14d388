//! Token buckets for per-connection flood limits. Time is passed in
//! (milliseconds on any monotonic clock), never read, so behaviour is
//! deterministic and testable.

/// A bucket refilled at `rate` tokens per second, holding at most one
/// second's worth (the burst a peer may send at once).
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: u64,
    last_ms: Option<u64>,
}

impl Bucket {
    /// A full bucket (a new connection may burst at once).
    pub fn new() -> Self {
        Bucket { tokens: u64::MAX, last_ms: None }
    }

    /// Take `cost` tokens at time `now_ms` from a bucket of `rate` per
    /// second; `false` (nothing taken) if there are not enough. A rate of
    /// 0 means unlimited.
    pub fn take(&mut self, cost: u64, rate: u64, now_ms: u64) -> bool {
        if rate == 0 {
            return true;
        }
        let last = *self.last_ms.get_or_insert(now_ms);
        let elapsed = now_ms.saturating_sub(last);
        let refill = rate.saturating_mul(elapsed) / 1000;
        // Advance the clock only by the time whole tokens took, so frequent
        // small calls keep their fractions; a full bucket forgets idle time.
        let full = self.tokens.saturating_add(refill) >= rate;
        self.last_ms = Some(if full { now_ms } else { last + refill.saturating_mul(1000) / rate });
        self.tokens = self.tokens.saturating_add(refill).min(rate);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket::new()
    }
}

/// What to do with traffic over a flood limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Close the connection (an error naming the limit).
    #[default]
    Close,
    /// Drop the messages over the limit (counted), keep the connection.
    Drop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let mut b = Bucket::new();
        assert!(b.take(1000, 1000, 0), "a full second's burst passes");
        assert!(!b.take(1, 1000, 0), "then nothing at the same instant");
        assert!(!b.take(11, 1000, 10), "10 ms refill 10 tokens");
        assert!(b.take(10, 1000, 10));
        assert!(b.take(1000, 1000, 5000), "refill caps at one second");
        assert!(!b.take(1, 1000, 5000));
    }

    #[test]
    fn frequent_small_steps_still_refill() {
        let mut b = Bucket::new();
        assert!(b.take(100, 100, 0));
        // 100 tokens/s = one per 10 ms; polled every 3 ms for 100 ms
        let got = (1..=33).filter(|i| b.take(1, 100, i * 3)).count();
        assert!((9..=10).contains(&got), "got {got}");
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let mut b = Bucket::new();
        assert!(b.take(u64::MAX, 0, 0));
    }
}
