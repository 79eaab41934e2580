//! Media figures of every running meeting, exported at each `/metrics` scrape.
//!
//! The media tasks publish their engine totals once a second (see
//! `dais_net::media_task::MediaHandle::published_stats`); this collector only reads those
//! copies, so a scrape never talks to a media task or touches the packet path.

use std::sync::Arc;

use dais_media::DropReason;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

use crate::meetings::Meetings;

/// Exports `dais_media_*` counters labelled by meeting (and drop reason).
#[derive(Debug)]
pub struct MediaCollector {
    meetings: Arc<Meetings>,
}

impl MediaCollector {
    /// A collector over the registry's meetings.
    pub fn new(meetings: Arc<Meetings>) -> MediaCollector {
        MediaCollector { meetings }
    }
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: &[(Vec<(&'static str, String)>, u64)],
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (labels, value) in rows {
        let metric = ConstCounter::new(*value);
        let encoder = family.encode_family(labels)?;
        metric.encode(encoder)?;
    }
    Ok(())
}

/// `NotShown` → `not_shown`: Prometheus label values by convention.
fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl Collector for MediaCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let meetings = self.meetings.media_handles();
        let stats: Vec<_> = meetings
            .iter()
            .map(|(n, h)| {
                let c = h.counters();
                let load =
                    |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
                (
                    n.clone(),
                    h.published_stats(),
                    load(&c.send_dropped),
                    load(&c.handed_off),
                )
            })
            .collect();
        let per_meeting = |f: &dyn Fn(&dais_media::EngineStats, u64) -> u64| {
            stats
                .iter()
                .map(|(n, s, sd, _)| (vec![("meeting", n.clone())], f(s, *sd)))
                .collect::<Vec<_>>()
        };
        counter(
            &mut encoder,
            "media_datagrams",
            "Datagrams received on meetings' media ports",
            &per_meeting(&|s, _| s.datagrams),
        )?;
        counter(
            &mut encoder,
            "media_forwarded_packets",
            "RTP packets forwarded (once per feed)",
            &per_meeting(&|s, _| s.forwarded),
        )?;
        counter(
            &mut encoder,
            "media_sends",
            "Datagrams the forwards cost (packets x receivers)",
            &per_meeting(&|s, _| s.sends),
        )?;
        counter(
            &mut encoder,
            "media_switches",
            "Completed picture switches (forced included)",
            &per_meeting(&|s, _| s.switches),
        )?;
        counter(
            &mut encoder,
            "media_forced_switches",
            "Switches that timed out waiting for a keyframe",
            &per_meeting(&|s, _| s.forced_switches),
        )?;
        counter(
            &mut encoder,
            "media_keyframe_requests",
            "Keyframe requests sent to sources",
            &per_meeting(&|s, _| s.keyframe_requests),
        )?;
        counter(
            &mut encoder,
            "media_send_buffer_drops",
            "Sends dropped because a socket send buffer was full",
            &per_meeting(&|_, sd| sd),
        )?;
        counter(
            &mut encoder,
            "media_send_hand_offs",
            "Batches of sends handed to the sender threads (D38)",
            &stats
                .iter()
                .map(|(n, _, _, h)| (vec![("meeting", n.clone())], *h))
                .collect::<Vec<_>>(),
        )?;
        let mut dropped = Vec::new();
        for (n, s, _, _) in &stats {
            for reason in DropReason::ALL {
                dropped.push((
                    vec![
                        ("meeting", n.clone()),
                        ("reason", snake_case(reason.as_str())),
                    ],
                    s.dropped.get(*reason),
                ));
            }
        }
        counter(
            &mut encoder,
            "media_dropped_packets",
            "Datagrams not forwarded, by typed reason",
            &dropped,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn drop_reasons_become_snake_case_labels() {
        assert_eq!(super::snake_case("NotShown"), "not_shown");
        assert_eq!(super::snake_case("UnknownAddress"), "unknown_address");
    }
}
