//! Taking usage back. A void (`rtc.usage.voided`) names an earlier usage
//! event of its app by its (`source`, `id`); the voided event's usage then
//! leaves every answer, exactly once, in whatever order the two arrive.
//!
//! What a void does depends only on what is stored under the named event's
//! key when the void is applied ([`Recorded`]), so the rule lives here and
//! storage carries it out under conditions that fail if that record changed
//! in between.

use super::commit::Counted;
use super::event::EventKey;
use super::ids::AppId;

/// The longest `reason` a void may carry, in Unicode scalar values.
pub const MAX_REASON_CHARS: usize = 256;

/// A valid void.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Void {
    pub app: AppId,
    /// The key of the voided event: its `source` and `id`.
    pub voided: EventKey,
    pub reason: Option<String>,
}

/// What is stored under an event's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A usage event counted (or parked, while its app had no zone), with
    /// the usage it counted, whether a void has taken it back, and whether
    /// it was parked when it arrived.
    Usage {
        usage: Counted,
        voided: bool,
        parked: bool,
    },
    /// A usage event counted before records held their usage.
    Bare,
    /// A void: its own record.
    Void { app: AppId },
    /// A void kept for an event that had not arrived: `app` is the void's.
    Kept { app: AppId },
}

/// What applying a void does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoidDecision {
    /// The named event is not known: the void is kept under its key, and
    /// the event, should it arrive from the same app, counts as voided.
    Keep,
    /// The named event's usage is taken back (`parked`: it was parked
    /// when it arrived, and may still be).
    Apply { usage: Counted, parked: bool },
    /// Nothing to do: the event is voided already (by this void or another).
    Nothing,
    /// The void is invalid; nothing is applied.
    Refuse(String),
}

/// What `void` does, given what its event's key holds (`None`: nothing).
pub fn decide(void: &Void, target: Option<&Recorded>) -> VoidDecision {
    match target {
        None => VoidDecision::Keep,
        Some(Recorded::Usage { usage, .. }) if usage.app() != &void.app => VoidDecision::Refuse(
            format!("the voided event belongs to another app, not {}", void.app),
        ),
        Some(Recorded::Usage { voided: true, .. }) => VoidDecision::Nothing,
        Some(Recorded::Usage { usage, parked, .. }) => VoidDecision::Apply {
            usage: usage.clone(),
            parked: *parked,
        },
        // A void kept earlier, by this app or another: the event has not
        // arrived, and when it does, the first kept void decides.
        Some(Recorded::Kept { .. }) => VoidDecision::Nothing,
        Some(Recorded::Void { .. }) => VoidDecision::Refuse("a void cannot be voided".into()),
        Some(Recorded::Bare) => VoidDecision::Refuse(
            "the voided event was counted before events kept their usage, so it cannot be taken back"
                .into(),
        ),
    }
}

/// Whether a delivered usage event of `app`, finding `kept` (a void kept
/// under its key by that app), counts as voided: only a void of its own app
/// applies to it.
pub fn kept_void_applies(kept: &AppId, app: &AppId) -> bool {
    kept == app
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Segment;
    use crate::domain::time::UtcMillis;
    use crate::domain::usage::{RecordMode, Tier};

    fn app(name: &str) -> AppId {
        AppId::parse(name).unwrap()
    }

    fn void_of(app_name: &str) -> Void {
        Void {
            app: app(app_name),
            voided: EventKey::of("s", "1"),
            reason: None,
        }
    }

    fn usage(app_name: &str) -> Counted {
        Counted::Segment(Segment {
            app: app(app_name),
            class: None,
            mode: RecordMode::Mixed,
            tier: Tier::Audio,
            start: UtcMillis(0),
            end: UtcMillis(1_000),
        })
    }

    #[test]
    fn every_record_decides_one_way() {
        let void = void_of("a");
        assert_eq!(decide(&void, None), VoidDecision::Keep);
        assert_eq!(
            decide(
                &void,
                Some(&Recorded::Usage {
                    usage: usage("a"),
                    voided: false,
                    parked: true
                })
            ),
            VoidDecision::Apply {
                usage: usage("a"),
                parked: true
            }
        );
        assert_eq!(
            decide(
                &void,
                Some(&Recorded::Usage {
                    usage: usage("a"),
                    voided: true,
                    parked: false
                })
            ),
            VoidDecision::Nothing
        );
        assert!(matches!(
            decide(
                &void,
                Some(&Recorded::Usage {
                    usage: usage("b"),
                    voided: false,
                    parked: false
                })
            ),
            VoidDecision::Refuse(reason) if reason.contains("another app")
        ));
        assert!(matches!(
            decide(&void, Some(&Recorded::Void { app: app("a") })),
            VoidDecision::Refuse(_)
        ));
        assert!(matches!(
            decide(&void, Some(&Recorded::Bare)),
            VoidDecision::Refuse(_)
        ));
        assert_eq!(
            decide(&void, Some(&Recorded::Kept { app: app("b") })),
            VoidDecision::Nothing
        );
    }

    #[test]
    fn a_kept_void_applies_only_to_its_own_app() {
        assert!(kept_void_applies(&app("a"), &app("a")));
        assert!(!kept_void_applies(&app("a"), &app("b")));
    }
}
