//! Interactive classes: who was in a class and for how long, what a class is
//! called and when it started and ended, and the prepaid packages its minutes
//! are paid from. The events that carry them are decoded in `event/class.rs`
//! and `event/package.rs`.

use super::commit::days_of;
use super::ids::{AppId, ClassId, Name, PackageId};
use super::time::{Day, UtcMillis};
use super::zone::BillingZone;

/// A participant's role in a class. Every role counts as a user of the class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Teacher,
    Assistant,
    Student,
    Spectator,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "teacher" => Some(Role::Teacher),
            "assistant" => Some(Role::Assistant),
            "student" => Some(Role::Student),
            "spectator" => Some(Role::Spectator),
            _ => None,
        }
    }

    /// As events spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::Assistant => "assistant",
            Role::Student => "student",
            Role::Spectator => "spectator",
        }
    }
}

/// How a session used the class: live in it, or watching its recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsageType {
    Interactive,
    Playback,
}

impl UsageType {
    pub const ALL: [UsageType; 2] = [UsageType::Interactive, UsageType::Playback];

    /// As events spell it.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "interactive" => Some(UsageType::Interactive),
            "playback" => Some(UsageType::Playback),
            _ => None,
        }
    }

    /// As answers spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageType::Interactive => "Interactive",
            UsageType::Playback => "Playback",
        }
    }

    /// One letter, for storage keys; `I` sorts before `P`, as rows are listed.
    pub fn code(self) -> char {
        match self {
            UsageType::Interactive => 'I',
            UsageType::Playback => 'P',
        }
    }

    pub fn from_code(code: char) -> Option<Self> {
        match code {
            'I' => Some(UsageType::Interactive),
            'P' => Some(UsageType::Playback),
            _ => None,
        }
    }
}

/// One user's presence in a class: a usage interval like a recording
/// segment. Sessions may overlap, even for one user; each counts whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub app: AppId,
    pub class: ClassId,
    pub user: Name,
    pub role: Role,
    pub usage: UsageType,
    pub start: UtcMillis,
    pub end: UtcMillis,
}

impl Session {
    /// The local days of `zone` the session touches, ascending (one to
    /// four: a 23-hour day can lie inside 48 hours with parts of two more).
    pub fn days(&self, zone: &BillingZone) -> Vec<Day> {
        days_of(&zone.split(self.start, self.end))
    }

    pub fn duration_ms(&self) -> u64 {
        (self.end.0 - self.start.0) as u64
    }
}

/// A fact about a class, set once: a repeat is a no-op, a different value a
/// conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassFact {
    /// The teacher pressed Start.
    Started { name: Name, start: UtcMillis },
    /// The teacher pressed End.
    Ended { end: UtcMillis },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassFactEvent {
    pub app: AppId,
    pub class: ClassId,
    pub fact: ClassFact,
}

/// What is known of a class: each fact once it has arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassFacts {
    pub name: Option<Name>,
    pub start: Option<UtcMillis>,
    pub end: Option<UtcMillis>,
}

impl ClassFacts {
    /// These facts with `fact` added, or why it conflicts: a different
    /// value for a fact already set, or an end not after the start
    /// (whichever of the two arrived first).
    pub fn with(&self, fact: &ClassFact) -> Result<ClassFacts, String> {
        let mut next = self.clone();
        match fact {
            ClassFact::Started { name, start } => {
                if self.name.as_ref().is_some_and(|n| n != name) {
                    return Err("the class already has another className".into());
                }
                if self.start.is_some_and(|s| s != *start) {
                    return Err("the class already has another startTime".into());
                }
                next.name = Some(name.clone());
                next.start = Some(*start);
            }
            ClassFact::Ended { end } => {
                if self.end.is_some_and(|e| e != *end) {
                    return Err("the class already has another endTime".into());
                }
                next.end = Some(*end);
            }
        }
        if let (Some(start), Some(end)) = (next.start, next.end)
            && end <= start
        {
            return Err("the class's endTime would not be after its startTime".into());
        }
        Ok(next)
    }
}

/// A prepaid package of minutes, valid on the app's local days
/// `valid_from..=valid_to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub app: AppId,
    pub id: PackageId,
    pub name: Name,
    pub minutes: u64,
    pub valid_from: Day,
    pub valid_to: Day,
    /// When the purchase was first acknowledged (the epoch for a package
    /// stored before purchases kept it, or one not stored yet).
    pub acked: UtcMillis,
    /// When a refund of it was first acknowledged: from then on it takes
    /// part in no deduction, as if never bought.
    pub refunded: Option<UtcMillis>,
}

impl Package {
    /// The package as it stood at `at`: bought by then (else `None`), and
    /// refunded only if the refund had come.
    pub fn as_of(&self, at: UtcMillis) -> Option<Package> {
        (self.acked < at).then(|| Package {
            refunded: self.refunded.filter(|r| *r < at),
            ..self.clone()
        })
    }
}

/// `rtc.package.refunded`: the app's package takes part in no deduction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub app: AppId,
    pub package: PackageId,
}

/// The most minutes one package holds.
pub const MAX_PACKAGE_MINUTES: u64 = 100_000_000;
/// The longest validity: `valid_to` at most this many days after `valid_from`.
/// A package rule of its own, not the reach of queries and late events
/// (`time::REACH_DAYS`), though both are 366 days today.
pub const MAX_PACKAGE_VALIDITY_DAYS: i64 = 366;
/// How far back a package may start: `valid_from` no earlier than the UTC
/// date of now minus this many days, whatever the app's zone, so that the
/// rule holds before the app's registration (and zone) is known. A package
/// rule of its own: 366 days of reach, plus the day a zone's date can be
/// ahead of UTC's.
pub const MAX_PACKAGE_LOOKBACK_DAYS: i64 = 367;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> UtcMillis {
        UtcMillis(ms)
    }

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    #[test]
    fn facts_set_once_and_end_after_start_whichever_came_first() {
        let started = ClassFact::Started {
            name: name("Math"),
            start: t(1_000),
        };
        let facts = ClassFacts::default().with(&started).unwrap();
        assert_eq!(
            facts.with(&started).unwrap(),
            facts,
            "the same fact again is a no-op"
        );
        assert!(
            facts
                .with(&ClassFact::Started {
                    name: name("Art"),
                    start: t(1_000)
                })
                .is_err()
        );
        assert!(
            facts
                .with(&ClassFact::Started {
                    name: name("Math"),
                    start: t(1_001)
                })
                .is_err()
        );
        assert!(
            facts.with(&ClassFact::Ended { end: t(1_000) }).is_err(),
            "end not after start"
        );
        let ended = facts.with(&ClassFact::Ended { end: t(2_000) }).unwrap();
        assert!(ended.with(&ClassFact::Ended { end: t(3_000) }).is_err());

        // The end first, then a start not before it.
        let end_first = ClassFacts::default()
            .with(&ClassFact::Ended { end: t(500) })
            .unwrap();
        assert!(end_first.with(&started).is_err());
    }

    #[test]
    fn a_session_across_midnight_touches_two_days() {
        let day = Day(20_000);
        let session = Session {
            app: AppId::parse("a").unwrap(),
            class: ClassId::parse("c").unwrap(),
            user: name("u"),
            role: Role::Student,
            usage: UsageType::Interactive,
            start: day.start().minus_ms(1),
            end: day.start().plus_ms(1),
        };
        assert_eq!(session.days(&BillingZone::utc()), vec![Day(19_999), day]);
        // In Shanghai both instants are on the same local day.
        let shanghai = BillingZone::parse("Asia/Shanghai").unwrap();
        assert_eq!(session.days(&shanghai), vec![day]);
        assert_eq!(session.duration_ms(), 2);
    }
}
