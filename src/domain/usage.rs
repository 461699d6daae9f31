//! Recording usage: record modes, resolution tiers, and millisecond counters.

use serde::{Serialize, Serializer};
use std::ops::AddAssign;

/// `RecordMode` of the query API and of `rtc.recording.segment` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordMode {
    /// `"0"`: single-stream recording.
    SingleStream,
    /// `"1"`: stream-mixing recording.
    Mixed,
}

impl RecordMode {
    pub const ALL: [RecordMode; 2] = [RecordMode::SingleStream, RecordMode::Mixed];

    /// Accepts exactly `"0"` or `"1"`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "0" => Some(RecordMode::SingleStream),
            "1" => Some(RecordMode::Mixed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordMode::SingleStream => "0",
            RecordMode::Mixed => "1",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Billing tier of a recording, by the video's pixel area as the vendors bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Audio,
    V480,
    V720,
    V1080,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Audio, Tier::V480, Tier::V720, Tier::V1080];

    /// ≤ 640×480 → V480, ≤ 1280×720 → V720, larger → V1080.
    pub fn for_video(width: u64, height: u64) -> Tier {
        let area = u128::from(width) * u128::from(height);
        if area <= 307_200 {
            Tier::V480
        } else if area <= 921_600 {
            Tier::V720
        } else {
            Tier::V1080
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_short_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.short_name() == name)
    }

    /// Short stable name, used in storage attribute names.
    pub fn short_name(self) -> &'static str {
        match self {
            Tier::Audio => "au",
            Tier::V480 => "480",
            Tier::V720 => "720",
            Tier::V1080 => "1080",
        }
    }
}

/// Milliseconds of recording per tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TierMillis(pub [u64; 4]);

impl TierMillis {
    pub fn get(&self, tier: Tier) -> u64 {
        self.0[tier.index()]
    }

    pub fn add(&mut self, tier: Tier, ms: u64) {
        self.0[tier.index()] += ms;
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

impl std::ops::Sub for TierMillis {
    type Output = TierMillis;

    /// Part of a total less another part of it: never below zero.
    fn sub(self, other: Self) -> TierMillis {
        let mut left = self;
        for (mine, theirs) in left.0.iter_mut().zip(other.0) {
            *mine = mine.saturating_sub(theirs);
        }
        left
    }
}

impl AddAssign for TierMillis {
    fn add_assign(&mut self, other: Self) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

/// Usage of one bucket for both record modes: what one storage item holds, so
/// that one counter update serves a batch whatever modes its events use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ModeUsage(pub [TierMillis; 2]);

impl ModeUsage {
    pub fn mode(&self, mode: RecordMode) -> &TierMillis {
        &self.0[mode.index()]
    }

    pub fn add(&mut self, mode: RecordMode, tier: Tier, ms: u64) {
        self.0[mode.index()].add(tier, ms);
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(TierMillis::is_zero)
    }

    /// Every non-zero (mode, tier, ms) counter.
    pub fn counters(&self) -> impl Iterator<Item = (RecordMode, Tier, u64)> + '_ {
        RecordMode::ALL.into_iter().flat_map(move |mode| {
            Tier::ALL
                .into_iter()
                .map(move |tier| (mode, tier, self.mode(mode).get(tier)))
                .filter(|(_, _, ms)| *ms > 0)
        })
    }
}

impl ModeUsage {
    /// Both record modes added together.
    pub fn both_modes(&self) -> TierMillis {
        let mut total = self.0[0];
        total += self.0[1];
        total
    }
}

impl AddAssign for ModeUsage {
    fn add_assign(&mut self, other: Self) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

impl std::ops::Sub for ModeUsage {
    type Output = ModeUsage;

    /// Part of a total less another part of it: never below zero.
    fn sub(self, other: Self) -> ModeUsage {
        ModeUsage([self.0[0] - other.0[0], self.0[1] - other.0[1]])
    }
}

/// A duration kept in milliseconds and shown as seconds: a whole number where
/// whole, otherwise with up to three decimals, written exactly (no float on the way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seconds(pub u64);

impl Seconds {
    pub fn to_json_number(self) -> String {
        let (whole, ms) = (self.0 / 1000, self.0 % 1000);
        if ms == 0 {
            whole.to_string()
        } else {
            let frac = format!("{ms:03}");
            format!("{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.to_json_number())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// A difference of durations, in milliseconds, shown as [`Seconds`] with a
/// minus sign when negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignedSeconds(pub i64);

impl SignedSeconds {
    pub fn to_json_number(self) -> String {
        let magnitude = Seconds(self.0.unsigned_abs()).to_json_number();
        if self.0 < 0 {
            format!("-{magnitude}")
        } else {
            magnitude
        }
    }
}

impl Serialize for SignedSeconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.to_json_number())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_seconds_keep_their_sign_and_every_millisecond() {
        for (ms, text) in [(0, "0"), (-1, "-0.001"), (-61_500, "-61.5"), (7_000, "7")] {
            assert_eq!(SignedSeconds(ms).to_json_number(), text);
        }
    }

    #[test]
    fn tiers_follow_pixel_area_edges() {
        assert_eq!(Tier::for_video(640, 480), Tier::V480);
        assert_eq!(Tier::for_video(480, 640), Tier::V480);
        assert_eq!(Tier::for_video(307_201, 1), Tier::V720);
        assert_eq!(Tier::for_video(1280, 720), Tier::V720);
        assert_eq!(Tier::for_video(921_601, 1), Tier::V1080);
        assert_eq!(Tier::for_video(1920, 1080), Tier::V1080);
        assert_eq!(Tier::for_video(u64::MAX, u64::MAX), Tier::V1080);
        assert_eq!(Tier::for_video(1, 1), Tier::V480);
    }

    #[test]
    fn record_mode_is_exactly_zero_or_one() {
        assert_eq!(RecordMode::parse("0"), Some(RecordMode::SingleStream));
        assert_eq!(RecordMode::parse("1"), Some(RecordMode::Mixed));
        for bad in ["", "00", "01", " 0", "0 ", "2", "-0", "+1", "1.0", "０"] {
            assert_eq!(RecordMode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn seconds_are_exact_with_up_to_three_decimals() {
        let cases = [
            (0, "0"),
            (1, "0.001"),
            (10, "0.01"),
            (100, "0.1"),
            (1_000, "1"),
            (150_000, "150"),
            (150_500, "150.5"),
            (123_456_789, "123456.789"),
            (u64::MAX, "18446744073709551.615"),
        ];
        for (ms, text) in cases {
            assert_eq!(Seconds(ms).to_json_number(), text);
            assert_eq!(serde_json::to_string(&Seconds(ms)).unwrap(), text);
        }
    }

    #[test]
    fn mode_usage_counters_skip_zeros() {
        let mut u = ModeUsage::default();
        u.add(RecordMode::Mixed, Tier::V720, 5);
        u.add(RecordMode::Mixed, Tier::V720, 7);
        assert_eq!(
            u.counters().collect::<Vec<_>>(),
            vec![(RecordMode::Mixed, Tier::V720, 12)]
        );
        assert_eq!(u.mode(RecordMode::Mixed).total(), 12);
        assert!(u.mode(RecordMode::SingleStream).is_zero());
    }
}
