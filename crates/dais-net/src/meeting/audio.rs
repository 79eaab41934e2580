//! The controller's audio side: joining legs to the mixer, and what the mixer reports
//! (dominant speaker, level meters, DTMF).

use std::time::{Duration, Instant};

use dais_conference::VenueId;
use dais_media::{LegConfig, LegId};
use serde::Serialize;
use tracing::{debug, warn};

use super::{Controller, MeetingEvent};
use crate::media_task::{AudioEvent, MixedAudio};

/// Level meters reach operators at most this often.
const LEVELS_EVERY: Duration = Duration::from_millis(500);

/// One venue's audio level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VenueLevel {
    /// The venue.
    pub venue: VenueId,
    /// Smoothed level in -dBov: 0 is the loudest, 127 silence (RFC 6464's scale).
    pub level: u8,
    /// Voice activity.
    pub voice: bool,
    /// Whether the venue is in the mix now.
    pub mixed: bool,
}

/// The key of an RFC 4733 §3.2 DTMF event code.
fn dtmf_digit(event: u8) -> char {
    match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        _ => '?',
    }
}

/// Rate limit of the level meters: the newest report waits until `due` when the previous one
/// went out less than [`LEVELS_EVERY`] ago.
#[derive(Debug, Default)]
pub(super) struct Levels {
    pub(super) last_sent: Option<Instant>,
    pub(super) pending: Option<Vec<VenueLevel>>,
    pub(super) due: Option<Instant>,
}

impl Controller {
    /// The leg of `venue` if its audio is mixed.
    pub(super) fn mixed_leg(&self, venue: &VenueId) -> Option<LegId> {
        self.legs
            .get(venue)
            .copied()
            .filter(|l| self.mixed.contains(l))
    }

    /// What an audio feed showing `venue` should carry: its leg, unless the venue is muted or
    /// its audio goes to the mixer (then the feed carries nothing).
    pub(super) fn feed_audio_leg(&self, venue: &VenueId) -> Option<LegId> {
        if self.mic_closed.contains(venue) {
            return None;
        }
        self.legs
            .get(venue)
            .copied()
            .filter(|l| !self.mixed.contains(l))
    }

    /// Puts a new leg's audio in the mixer when the mixer decodes its codec, with the venue's
    /// current microphone and block state; the main venue's leg becomes the mixer's main.
    pub(super) async fn join_mixer(&mut self, venue: &VenueId, leg: LegId, cfg: &LegConfig) {
        let Some(audio) = MixedAudio::for_leg(cfg) else {
            if cfg.audio.is_some() {
                debug!(meeting = %self.number, venue = %venue, "audio codec not mixed; audio feeds carry it");
            }
            return;
        };
        if let Err(e) = self.media.mix_audio(leg, audio).await {
            warn!(meeting = %self.number, venue = %venue, error = %e, "audio not mixed; audio feeds carry it");
            return;
        }
        self.mixed.insert(leg);
        if self.mic_closed.contains(venue) {
            let _ = self.media.set_audio_muted(leg, true).await;
        }
        if self.audio_blocked.contains(venue) {
            let _ = self.media.set_audio_blocked(leg, true).await;
        }
        if *venue == self.main_venue {
            let _ = self.media.set_main_audio(Some(leg)).await;
        }
    }

    pub(super) async fn audio_event(&mut self, ev: AudioEvent) {
        let now = Instant::now();
        match ev {
            AudioEvent::DominantSpeaker { leg } => {
                let Some(venue) = self.venue_of.get(&leg).cloned() else {
                    return;
                };
                let _ = self.events.send(MeetingEvent::DominantSpeaker {
                    venue: venue.clone(),
                });
                self.dominant = Some(venue);
                self.refeed_dominant_speaker(now).await;
            }
            AudioEvent::Dtmf {
                leg,
                event,
                duration,
            } => {
                if let Some(venue) = self.venue_of.get(&leg).cloned() {
                    let _ = self.events.send(MeetingEvent::Dtmf {
                        venue,
                        digit: dtmf_digit(event),
                        duration_ms: duration.as_millis() as u64,
                    });
                }
            }
            AudioEvent::Levels(levels) => {
                let levels = levels
                    .into_iter()
                    .filter_map(|l| {
                        Some(VenueLevel {
                            venue: self.venue_of.get(&l.leg)?.clone(),
                            level: l.level,
                            voice: l.voice,
                            mixed: l.mixed,
                        })
                    })
                    .collect();
                self.levels.pending = Some(levels);
                match self.levels.last_sent {
                    Some(last) if now < last + LEVELS_EVERY => {
                        self.levels.due = Some(last + LEVELS_EVERY);
                    }
                    _ => self.flush_levels(now),
                }
            }
        }
    }

    /// Tells the policy who the dominant speaker is. The mixer reports changes only, so this
    /// also runs when voice activation is switched on: a venue already dominant then is
    /// broadcast after the hold like one that just became dominant.
    pub(super) async fn refeed_dominant_speaker(&mut self, now: Instant) {
        let Some(venue) = self.dominant.clone() else {
            return;
        };
        match self.conf.handle_dominant_speaker(now, &venue) {
            Ok(actions) => self.apply(actions).await,
            Err(e) => {
                debug!(meeting = %self.number, venue = %venue, error = %e, "dominant speaker ignored")
            }
        }
    }

    /// Sends the newest level report, if one waits.
    pub(super) fn flush_levels(&mut self, now: Instant) {
        self.levels.due = None;
        if let Some(levels) = self.levels.pending.take() {
            self.levels.last_sent = Some(now);
            let _ = self.events.send(MeetingEvent::AudioLevels { levels });
        }
    }
}
