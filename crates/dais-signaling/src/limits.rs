//! Per-source admission: a token bucket per IP address, so that one scanner flooding the port
//! is slowed down without touching anyone else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// One token bucket per source IP (sans-IO: time comes in).
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<IpAddr, Bucket>,
    max_sources: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `rate` tokens per second, at most `burst` saved up, per source.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate: rate.max(0.0),
            burst: burst.max(1.0),
            buckets: HashMap::new(),
            max_sources: 65_536,
        }
    }

    /// Takes one token for a message from `ip`; false when the source is over its rate.
    pub fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.buckets.len() >= self.max_sources && !self.buckets.contains_key(&ip) {
            self.prune(now);
        }
        let (rate, burst) = (self.rate, self.burst);
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets sources whose bucket has refilled (they would start full anyway); if a spoofed
    /// flood keeps the map full, forgets everything rather than grow without bound.
    fn prune(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
        if self.buckets.len() >= self.max_sources {
            self.buckets.clear();
        }
    }

    /// Sources currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn flood_from_one_source_is_cut_to_its_rate_and_others_are_untouched() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(10.0, 20.0);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let passed = (0..1000).filter(|_| l.allow(t0, a)).count();
        assert_eq!(passed, 20, "the burst, then nothing");
        assert!(l.allow(t0, b), "another source keeps its own bucket");
        // one second later: ten more tokens
        let t1 = t0 + Duration::from_secs(1);
        let passed = (0..1000).filter(|_| l.allow(t1, a)).count();
        assert_eq!(passed, 10);
    }

    #[test]
    fn the_source_map_is_bounded() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(10.0, 20.0);
        l.max_sources = 100;
        for i in 0..1000u32 {
            l.allow(t0, IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.tracked() <= 100);
    }
}
